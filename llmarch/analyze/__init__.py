"""The analyzers: closed forms over the IR (parameters, KV cache, FLOPs, serving), each a typed result."""
