"""txsync: complete, deduplicated crypto transaction history from exchanges and blockchains."""

__version__ = "0.1.0"
