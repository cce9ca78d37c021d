"""A probe's result: the value the probes produce and the pure incident engine reads.

It lives apart from :mod:`monitord.probes.base` (which holds the probes' sockets and TLS
contexts) so that the incident engine can read a result without loading the network stack;
``monitord.probes.base`` re-exports it, so plugins and probes keep importing it from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
    inconclusive: bool = False
    """The monitor could not run the probe (it was out of open files): the result says nothing
    about the site, and the incident engine leaves the check's state as it was."""


__all__ = ["ProbeResult"]
