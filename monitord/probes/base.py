"""What every probe shares: its result, its context and its signature.

A probe is ``async def probe(site, spec, ctx) -> ProbeResult``. It reports the site's failures
as ``ProbeResult(ok=False, …)`` and never raises for them; the runner (probes.runner) owns the
timeout and the timing and turns anything a probe does raise into a failed result.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitord.clock import Clock, utcnow
from monitord.config.models import CheckBase, CheckSpec, Site
from monitord.errors import ProbeSetupError
from monitord.results import ProbeResult

if TYPE_CHECKING:
    import aiohttp


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """What a probe may use besides its spec. Tests pass a trust store with their own CA.

    Build one with :func:`monitord.probes.runner.open_probe_context`, which owns the shared
    HTTP session (and one more per other source address checks ask for, made on first use);
    a bare ``ProbeContext()`` serves the tls, tcp and dns probes only.
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
    source_address: str | None = None
    """The local address every probe's connections come from (the node's
    ``node.source_address``); a check's own ``source_address`` wins. None: the system chooses.
    The dns probe does not bind (the system's resolver picks its own source)."""
    _session_factory: Callable[[str], aiohttp.ClientSession] | None = field(
        default=None, repr=False, compare=False
    )
    """Makes the session bound to another source address (set by open_probe_context)."""
    _sessions: dict[str, aiohttp.ClientSession] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Sessions bound to a check's own source address, one per address; closed with the
    context (open_probe_context)."""
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

    def source_of(self, spec: CheckBase) -> str | None:
        """The address ``spec``'s connections come from: its own, else the context's."""
        return spec.source_address or self.source_address

    def session_for(self, source_address: str | None) -> aiohttp.ClientSession:
        """The HTTP session whose connections come from ``source_address``: the shared one
        for the context's own address (or None), else one per address, made on first use."""
        session = self.require_session()
        if source_address is None or source_address == self.source_address:
            return session
        bound = self._sessions.get(source_address)
        if bound is None:
            if self._session_factory is None:
                raise ProbeSetupError(
                    "a check with its own source_address needs a context made by "
                    "monitord.probes.runner.open_probe_context()"
                )
            bound = self._sessions[source_address] = self._session_factory(source_address)
        return bound


OUT_OF_FILES_HINT = (
    "monitord ran out of file descriptors: these probes were not run and no site was marked "
    "down for it; raise LimitNOFILE= (docs/service.md) or look for what holds the files "
    "(ls /proc/$(pidof -s monitord)/fd | wc -l)"
)

BIND_HINT = (
    "a probe's source address (node.source_address or the check's source_address) cannot be "
    "bound: these probes were not run and no site was marked down for it; use an address "
    "`ip addr` lists on this host, or leave source_address out"
)


class MonitorFault(Exception):
    """A probe could not run for a reason of the monitor's own (no open file left, a source
    address it cannot bind), not the site's: the runner turns it into an inconclusive
    result, never a failure.

    ``summary`` is the result's words ("out of open files"); ``code`` names the kind in the
    result's details and the log (``EMFILE``, ``BIND``); ``hint`` is what the log advises.
    """

    def __init__(
        self,
        summary: str,
        *,
        code: str = "EMFILE",
        hint: str = OUT_OF_FILES_HINT,
        detail: str | None = None,
    ) -> None:
        super().__init__(detail or summary)
        self.summary = summary
        self.code = code
        self.hint = hint


def out_of_files(exc: BaseException) -> MonitorFault:
    """The fault for an EMFILE/ENFILE error (see :func:`fd_exhausted`)."""
    return MonitorFault("out of open files", detail=str(exc))


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


_BIND_ERROR = re.compile(
    r"(?:\[Errno \d+\] )?"
    r"(?:error while attempting to bind on address \(.*?\): (?P<why>[^,]*)"
    r"|no matching local address with family=.*? found)"
)
"""What asyncio and aiohappyeyeballs say when a connection's socket cannot be bound to its
local address (``no matching local address``: none of the source's family, IPv4 vs IPv6)."""

_JOINED = re.compile(r"^(?:\[Errno \d+\] )?Multiple exceptions: ")
"""The head of several attempts' errors joined in one (with their errno when they share it)."""


def bind_fault(exc: BaseException, source_address: str) -> MonitorFault | None:
    """The monitor's fault when ``exc`` says that every connection attempt failed to bind to
    ``source_address`` (a connection that failed for another reason is the site's), else
    None. Several attempts' errors come joined as ``Multiple exceptions: a, b``."""
    text = _JOINED.sub("", str(exc))
    found = list(_BIND_ERROR.finditer(text))
    if not found or _BIND_ERROR.sub("", text).replace(",", "").strip():
        return None
    reasons = [m["why"].strip() for m in found if m["why"] is not None]
    if reasons:
        reason = reasons[0] or "bind failed"
        if getattr(exc, "errno", None) == errno.EADDRNOTAVAIL or "cannot assign" in reason:
            reason += " — it must be an address of this host (ip addr)"
    else:
        mine, theirs = ("IPv6", "IPv4") if ":" in source_address else ("IPv4", "IPv6")
        reason = (
            f"the site has no {mine} address, only {theirs} — give this check an {theirs} "
            "source address, or none"
        )
    return MonitorFault(
        f"cannot bind to source address {source_address}: {reason}",
        code="BIND",
        hint=BIND_HINT,
        detail=str(exc),
    )


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


def describe_oserror(exc: OSError, source_address: str | None = None) -> str:
    """A connection failure in a few words: ``connection refused``, ``name does not resolve``.

    Raises :class:`MonitorFault` for EMFILE/ENFILE and for a connection that could not be
    bound to its ``source_address``: neither is a failure of the site."""
    if exc.errno in FD_EXHAUSTED_ERRNOS:
        raise out_of_files(exc) from exc
    if source_address is not None:
        fault = bind_fault(exc, source_address)
        if fault is not None:
            raise fault from exc
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
    "bind_fault",
    "describe_gaierror",
    "describe_oserror",
    "fd_exhausted",
    "format_ms",
    "out_of_files",
]
