"""The importers: configs and checkpoints from elsewhere turned into specs."""
