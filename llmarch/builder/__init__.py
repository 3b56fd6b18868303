"""The model builder: the torch module on the meta device, its walk, its traced counters, their cache."""
