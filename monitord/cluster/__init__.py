"""Several monitord nodes on one PostgreSQL store: identity, quorum, leadership, membership."""
