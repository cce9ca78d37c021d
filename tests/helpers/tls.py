"""A private certificate authority for tests (trustme), and the SSL contexts built from it.

Use as fixtures (import them into a conftest.py):

    from tests.helpers.tls import test_ca, client_ssl_context  # noqa: F401

or directly: ``ca = TestCA()``, ``ca.server_context("127.0.0.1")``, ``ca.client_context()``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import trustme


class TestCA:
    """A throwaway CA: issues server certificates and builds contexts that trust them."""

    __test__ = False  # not a test class, despite the name

    def __init__(self) -> None:
        self.ca = trustme.CA()

    def server_context(
        self,
        *names: str,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> ssl.SSLContext:
        """A server-side context presenting a certificate for ``names`` (default 127.0.0.1,
        localhost), valid from ``not_before`` until ``not_after``."""
        leaf = self.ca.issue_cert(
            *(names or ("127.0.0.1", "localhost")),
            not_before=not_before,
            not_after=not_after,
        )
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ctx)
        return ctx

    def expiring_server_context(
        self, *names: str, days: float, now: datetime | None = None
    ) -> ssl.SSLContext:
        """A certificate whose notAfter is ``days`` from ``now`` (negative: already expired)."""
        now = now or datetime.now(UTC)
        not_after = (now + timedelta(days=days)).replace(microsecond=0)
        not_before = min(now, not_after) - timedelta(days=30)
        return self.server_context(*names, not_before=not_before, not_after=not_after)

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this CA (and only it)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies chain and hostname
        self.ca.configure_trust(ctx)
        return ctx


@pytest.fixture(scope="session")
def test_ca() -> Iterator[TestCA]:
    yield TestCA()


@pytest.fixture(scope="session")
def client_ssl_context(test_ca: TestCA) -> ssl.SSLContext:
    return test_ca.client_context()
