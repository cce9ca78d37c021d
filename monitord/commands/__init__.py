"""One module per CLI command; see monitord.cli for the protocol."""
