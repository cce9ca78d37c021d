"""Connection limits for the API: a cap on concurrent connections and a deadline on each.

aiohttp's server has a keep-alive timeout but no bound on how long a request's head may take
to arrive, nor on the number of connections: idle or slowloris clients (one header line every
few seconds) could hold sockets until the daemon ran out of open files and every probe failed.
:class:`ConnectionGuard` sits between the listening socket and aiohttp's protocol:

* past ``max_connections`` a new connection gets ``503`` and is closed at once;
* every connection always has one deadline, after which it is aborted:

  - *idle* (no request under way), ``idle_timeout`` after it opened or after its last request
    was answered (a response the client is too slow to read counts as idle too);
  - *head*: from a request's first byte its line and headers must be complete within
    ``header_timeout``, however slowly they trickle in;
  - *busy* (a handler runs): ``request_timeout``; :meth:`middleware` answers 408 when a
    handler (reading a slow body, say) takes longer, and the connection is aborted CLOSE_GRACE
    later; the deadline, BUSY_GRACE after the timeout, aborts it if even that did not happen.

The guard only wraps the protocol aiohttp gives for each connection and forwards every call to
it; a request marks its connection busy and idle again from the app's outermost middleware.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

REFUSED_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 52\r\n"
    b"Retry-After: 5\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"503: too many connections to monitord; retry later\n"
)
"""What a connection past the cap gets before it is closed (written into the fresh socket's
empty send buffer, so it never waits)."""

BUSY_GRACE = 5.0
"""Seconds past ``request_timeout`` before a busy connection is aborted: time for the 408 the
middleware answers to go out first."""

CLOSE_GRACE = 1.0
"""Seconds a connection answered 408 stays open for the answer to reach the client, instead
of aiohttp's lingering read of the rest of a body (10 s)."""

LOG_EVERY = 10.0
"""Seconds between two log lines about refused or timed-out connections (counts in between)."""

State = Literal["idle", "head", "busy"]


@dataclass(frozen=True, slots=True)
class GuardSettings:
    max_connections: int
    idle_timeout: float
    header_timeout: float
    request_timeout: float


@dataclass(slots=True)
class GuardCounts:
    """Connections refused and closed by each deadline since start (for logs and tests)."""

    accepted: int = 0
    refused: int = 0
    idle: int = 0
    head: int = 0
    busy: int = 0


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Log = Callable[..., Any]


class _Conn:
    __slots__ = ("handle", "state", "transport")

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.state: State = "idle"
        self.handle: asyncio.TimerHandle | None = None


class ConnectionGuard:
    """Caps and times API connections; see the module doc."""

    def __init__(self, settings: GuardSettings, log: Log) -> None:
        self.settings = settings
        self.counts = GuardCounts()
        self._log = log
        self._conns: dict[asyncio.BaseTransport, _Conn] = {}
        self._last_log = 0.0
        self._logged = GuardCounts()

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def protocol_factory(
        self, inner: Callable[[], asyncio.BaseProtocol]
    ) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server`` wrapping aiohttp's (``runner.server``)."""
        return lambda: _GuardedProtocol(self, inner)

    # -- connection life ----------------------------------------------------------------

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        if len(self._conns) >= self.settings.max_connections:
            self.counts.refused += 1
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(REFUSED_RESPONSE)
            transport.close()
            self._maybe_log()
            return False
        self.counts.accepted += 1
        conn = _Conn(transport)
        self._conns[transport] = conn
        self._enter(conn, "idle", self.settings.idle_timeout)
        return True

    def gone(self, transport: asyncio.BaseTransport) -> None:
        conn = self._conns.pop(transport, None)
        if conn is not None and conn.handle is not None:
            conn.handle.cancel()

    def data(self, transport: asyncio.BaseTransport) -> None:
        conn = self._conns.get(transport)
        if conn is not None and conn.state == "idle":
            self._enter(conn, "head", self.settings.header_timeout)

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        conn = self._conns.get(transport) if transport is not None else None
        if conn is not None:
            self._enter(conn, "busy", self.settings.request_timeout + BUSY_GRACE)

    def request_finished(
        self, transport: asyncio.BaseTransport | None, *, timed_out: bool = False
    ) -> None:
        conn = self._conns.get(transport) if transport is not None else None
        if conn is not None:
            if timed_out:
                self._enter(conn, "busy", CLOSE_GRACE)
            else:
                self._enter(conn, "idle", self.settings.idle_timeout)

    def close_all(self) -> None:
        for transport in list(self._conns):
            self.gone(transport)
            transport.abort() if isinstance(transport, asyncio.Transport) else transport.close()

    def _enter(self, conn: _Conn, state: State, seconds: float) -> None:
        if conn.handle is not None:
            conn.handle.cancel()
        conn.state = state
        loop = asyncio.get_running_loop()
        conn.handle = loop.call_later(seconds, self._expire, conn)

    def _expire(self, conn: _Conn) -> None:
        conn.handle = None
        if self._conns.get(conn.transport) is not conn:
            return
        setattr(self.counts, conn.state, getattr(self.counts, conn.state) + 1)
        self.gone(conn.transport)
        transport = conn.transport
        # abort, not close: a client that does not read must not keep the socket open.
        transport.abort() if isinstance(transport, asyncio.Transport) else transport.close()
        self._maybe_log()

    # -- requests -----------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The app's outermost middleware: marks the connection busy while the handler runs,
        and answers 408 (closing the connection) when it takes longer than request_timeout."""
        transport = request.transport
        self.request_started(transport)
        timeout = self.settings.request_timeout
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                return await handler(request)
        except TimeoutError:
            if not deadline.expired():
                raise
            response = web.Response(
                status=408,
                text=f"408: request not completed within {timeout:g}s; closing\n",
            )
            response.force_close()
            return response
        finally:
            self.request_finished(transport, timed_out=deadline.expired())

    # -- logging ------------------------------------------------------------------------

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._last_log < LOG_EVERY:
            return
        self._last_log = now
        c, before = self.counts, self._logged
        refused = c.refused - before.refused
        timed_out = {
            "idle": c.idle - before.idle,
            "head": c.head - before.head,
            "busy": c.busy - before.busy,
        }
        self._logged = GuardCounts(c.accepted, c.refused, c.idle, c.head, c.busy)
        if refused:
            self._log(
                "api.connections_refused",
                refused=refused,
                max_connections=self.settings.max_connections,
                hint="more clients than http.max_connections: an attack, or a client that "
                "does not close its connections; raise the cap only with LimitNOFILE",
            )
        if any(timed_out.values()):
            self._log(
                "api.connections_timed_out",
                idle=timed_out["idle"],
                slow_headers=timed_out["head"],
                slow_requests=timed_out["busy"],
            )


class _GuardedProtocol(asyncio.Protocol):
    """Forwards every call to aiohttp's protocol, telling the guard what happens."""

    __slots__ = ("_factory", "_guard", "_inner", "_transport")

    def __init__(self, guard: ConnectionGuard, factory: Callable[[], asyncio.BaseProtocol]):
        self._guard = guard
        self._factory = factory
        self._inner: Any = None
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._guard.admit(transport):
            return
        self._transport = transport
        self._inner = self._factory()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        assert self._transport is not None
        self._guard.data(self._transport)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._inner is None:
            return None
        result: bool | None = self._inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        if self._inner is None:
            return
        assert self._transport is not None
        self._guard.gone(self._transport)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()
