"""Reusable test helpers: loopback servers (sites.py) and a private TLS CA (tls.py)."""
