"""What every probe shares: its result, its context and its signature.

A probe is ``async def probe(site, spec, ctx) -> ProbeResult``. It reports the site's failures
as ``ProbeResult(ok=False, …)`` and never raises for them; the runner (probes.runner) owns the
timeout and the timing and turns anything a probe does raise into a failed result.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from monitord.config.models import CheckSpec, Site


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    """The check passed (a warning may still be attached)."""
    message: str
    """One short line for people: ``HTTP 200 in 85 ms``, ``timed out after 10s``."""
    duration: float = 0.0
    """Seconds from the probe's start to its end, set by the runner."""
    warning: str | None = None
    """A passing check that needs attention soon, e.g. a certificate close to expiry."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Machine-readable facts: ``status``, ``cert_days_left``, ``cert_not_after``, ``addresses``."""


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """What a probe may use besides its spec. Tests pass a trust store with their own CA."""

    ssl_context: ssl.SSLContext | None = None
    """Verification context for TLS; None means the system's default trust store."""
    user_agent: str = "monitord/0.1 (+https://github.com/monitord)"

    def verifying_context(self) -> ssl.SSLContext:
        return self.ssl_context if self.ssl_context is not None else ssl.create_default_context()


Probe = Callable[[Site, Any, ProbeContext], Awaitable[ProbeResult]]
"""``async def probe(site, spec, ctx) -> ProbeResult``; spec is the module's own check model."""

__all__ = ["CheckSpec", "Probe", "ProbeContext", "ProbeResult"]
