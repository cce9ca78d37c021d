"""Fixtures for the probe tests: a private CA, a probe context that trusts it, spec builders."""

from __future__ import annotations

import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # `tests.helpers` importable under plain `pytest` too
    sys.path.insert(0, _ROOT)

from monitord.config.models import Site  # noqa: E402
from monitord.probes.base import ProbeContext  # noqa: E402
from monitord.probes.runner import open_probe_context  # noqa: E402
from tests.helpers.tls import TestCA, client_ssl_context, test_ca  # noqa: E402

__all__ = ["TestCA", "client_ssl_context", "make_site", "test_ca"]


def make_site(url: str = "https://127.0.0.1/", checks: list[dict[str, Any]] | None = None) -> Site:
    return Site.model_validate({"id": "t-site", "url": url, "checks": checks or []})


@pytest.fixture
async def ctx(client_ssl_context: ssl.SSLContext) -> AsyncIterator[ProbeContext]:
    async with open_probe_context(client_ssl_context) as context:
        yield context
