"""What every probe shares: its result, its context and its signature.

A probe is ``async def probe(site, spec, ctx) -> ProbeResult``. It reports the site's failures
as ``ProbeResult(ok=False, …)`` and never raises for them; the runner (probes.runner) owns the
timeout and the timing and turns anything a probe does raise into a failed result.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitord.clock import Clock, utcnow
from monitord.config.models import CheckSpec, Site
from monitord.errors import ProbeSetupError
from monitord.results import ProbeResult

if TYPE_CHECKING:
    import aiohttp


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """What a probe may use besides its spec. Tests pass a trust store with their own CA.

    Build one with :func:`monitord.probes.runner.open_probe_context`, which owns the shared
    HTTP session; a bare ``ProbeContext()`` serves the tls, tcp and dns probes only.
    The SSL contexts are created once per context and cached (creating one loads the whole
    trust store: far too costly per probe).
    """

    ssl_context: ssl.SSLContext | None = None
    """Verification context for TLS; None means the system's default trust store."""
    user_agent: str = "monitord/0.1 (+https://github.com/monitord)"
    session: aiohttp.ClientSession | None = None
    """The shared HTTP session (fresh connection per request); set by open_probe_context."""
    clock: Clock = utcnow
    """Wall-clock "now" (aware, UTC) for certificate arithmetic; tests pass a fixed one."""
    _verifying: list[ssl.SSLContext] = field(default_factory=list, repr=False, compare=False)
    _unverified: list[ssl.SSLContext] = field(default_factory=list, repr=False, compare=False)
    _by_ca_file: dict[Path, ssl.SSLContext] = field(default_factory=dict, repr=False, compare=False)

    def verifying_context(self, ca_file: Path | None = None) -> ssl.SSLContext:
        """The context that verifies chain and hostname (cached). With ``ca_file`` (a check's
        private CA), one that trusts the CAs in that file and only them, cached per file."""
        if ca_file is not None:
            cached = self._by_ca_file.get(ca_file)
            if cached is None:
                try:
                    cached = ssl.create_default_context(cafile=str(ca_file))
                except (OSError, ssl.SSLError) as exc:
                    raise ProbeSetupError(
                        f"cannot load ca_file {ca_file}: {exc}; it must be a PEM file of CA "
                        "certificates (check-config checks it)"
                    ) from exc
                self._by_ca_file[ca_file] = cached
            return cached
        if self.ssl_context is not None:
            return self.ssl_context
        if not self._verifying:
            self._verifying.append(ssl.create_default_context())
        return self._verifying[0]

    def unverified_context(self) -> ssl.SSLContext:
        """A context that accepts any certificate: only for reading what a server presents."""
        if not self._unverified:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self._unverified.append(ctx)
        return self._unverified[0]

    def require_session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            raise ProbeSetupError(
                "http probes need the shared HTTP session: create the context with "
                "monitord.probes.runner.open_probe_context()"
            )
        return self.session


class MonitorFault(Exception):
    """A probe could not run for a reason of the monitor's own (no open file left), not the
    site's: the runner turns it into an inconclusive result, never a failure."""


FD_EXHAUSTED_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE})
"""The process's (EMFILE) or the system's (ENFILE) open-file table is full."""


def fd_exhausted(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it wraps or was raised from, is EMFILE/ENFILE."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in FD_EXHAUSTED_ERRNOS:
            return True
        todo += [e.__cause__, e.__context__, getattr(e, "os_error", None)]
    return False


Probe = Callable[[Site, Any, ProbeContext], Awaitable[ProbeResult]]
"""``async def probe(site, spec, ctx) -> ProbeResult``; spec is the module's own check model."""


_GAI_NO_NAME = {
    getattr(socket, name)
    for name in ("EAI_NONAME", "EAI_NODATA", "EAI_ADDRFAMILY")
    if hasattr(socket, name)
}


def describe_gaierror(exc: socket.gaierror) -> str:
    """A resolver failure, said the way people act on it."""
    if exc.errno in _GAI_NO_NAME:
        return "name does not resolve"
    if exc.errno == getattr(socket, "EAI_AGAIN", None):
        return "DNS lookup failed temporarily (resolver did not answer)"
    return f"DNS lookup failed: {exc.strerror or exc}"


def describe_oserror(exc: OSError) -> str:
    """A connection failure in a few words: ``connection refused``, ``name does not resolve``.

    Raises :class:`MonitorFault` for EMFILE/ENFILE: that is no failure of the site."""
    if exc.errno in FD_EXHAUSTED_ERRNOS:
        raise MonitorFault(f"out of open files ({exc.strerror or 'too many open files'})") from exc
    if isinstance(exc, socket.gaierror):
        return describe_gaierror(exc)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"{'host' if exc.errno == errno.EHOSTUNREACH else 'network'} unreachable"
    if exc.errno == errno.ETIMEDOUT:
        return "connection timed out"
    if exc.strerror:
        return f"connection failed: {exc.strerror.lower()}"
    return f"connection failed: {type(exc).__name__}"


def format_ms(seconds: float) -> str:
    """``85 ms``, ``1.24 s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


__all__ = [
    "CheckSpec",
    "MonitorFault",
    "Probe",
    "ProbeContext",
    "ProbeResult",
    "describe_gaierror",
    "describe_oserror",
    "fd_exhausted",
    "format_ms",
]
