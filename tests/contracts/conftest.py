"""Fixtures for the contract tests: loopback SMTP."""

from __future__ import annotations

from tests.helpers.smtp import smtp_server, smtp_server_factory  # noqa: F401
from tests.helpers.tls import test_ca  # noqa: F401
