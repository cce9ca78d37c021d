"""Several nodes on one PostgreSQL store: who leads (``leader``), and what the nodes agree on."""
