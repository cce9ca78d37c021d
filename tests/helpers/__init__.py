"""Reusable test helpers: loopback servers (sites.py), a private TLS CA (tls.py), an SMTP server
(smtp.py), secret checks (secrets.py), a driven clock (clock.py) and daemon-test scaffolding
(daemon.py)."""
