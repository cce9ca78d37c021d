"""monitord: keeps a web agency's monitoring and security promises without a person watching."""

__version__ = "0.1.0"
