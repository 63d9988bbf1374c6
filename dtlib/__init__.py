"""dtlib: a reproducible replication of the Decision Transformer (Chen et al., NeurIPS 2021)."""

__version__ = "0.1.0"
