"""One module per mechanism kind, behind the protocol of `base.py` (see docs/architecture.md)."""
