"""aureond: an SPV light-client daemon for Bitcoin-family proof-of-work chains."""

__version__ = "0.1.0"

__all__ = ["__version__"]
