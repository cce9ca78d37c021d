"""Loopback servers for tests: real sockets on 127.0.0.1, no mocks.

- :func:`serve_app`: an aiohttp application over HTTP or HTTPS (pass a server SSL context,
  e.g. from ``tests.helpers.tls.TestCA.server_context``); yields a :class:`LoopbackSite`.
- :func:`hanging_server`: accepts connections and never answers.
- :func:`trickling_server`: answers one byte every ``interval`` seconds, forever.
- :func:`counting_http_server`: a minimal keep-alive HTTP/1.1 server that counts connections.
- :func:`closed_port`: a port on 127.0.0.1 where nothing listens (connections are refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from aiohttp import web

HOST = "127.0.0.1"


@dataclass
class LoopbackSite:
    """Where a loopback server listens, and what it saw."""

    host: str
    port: int
    scheme: str = "http"
    connections: int = 0
    """TCP connections accepted (raw servers only)."""
    requests: int = 0
    """Requests answered (counting_http_server only)."""
    closed: int = 0
    """Connections that ended, by either side (raw servers only)."""
    connected: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    """Set at each accepted connection (raw servers only): await it instead of sleeping."""
    disconnected: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    """Set when a connection ends (raw servers only)."""
    writers: set[asyncio.StreamWriter] = field(default_factory=set, repr=False)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/"

    def url_for(self, path: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/{path.lstrip('/')}"


@contextlib.asynccontextmanager
async def serve_app(
    app: web.Application, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[LoopbackSite]:
    """Run ``app`` on 127.0.0.1 (a free port), HTTPS when ``ssl_context`` is given."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield LoopbackSite(HOST, port, "https" if ssl_context else "http")
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _raw_server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter, LoopbackSite], Awaitable[None]],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[LoopbackSite]:
    info = LoopbackSite(HOST, 0, "https" if ssl_context else "http")
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        info.connections += 1
        info.connected.set()
        info.writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer, info)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            info.writers.discard(writer)
            writer.close()
            info.closed += 1
            info.disconnected.set()

    server = await asyncio.start_server(on_connect, HOST, 0, ssl=ssl_context)
    info.port = server.sockets[0].getsockname()[1]
    try:
        yield info
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        for writer in list(info.writers):
            writer.transport.abort()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def _hang(reader: asyncio.StreamReader, _w: asyncio.StreamWriter, _i: LoopbackSite) -> None:
    while await reader.read(4096):
        pass  # swallow whatever the client sends, never answer, return when the client goes


def hanging_server(
    *, ssl_context: ssl.SSLContext | None = None
) -> AbstractAsyncContextManager[LoopbackSite]:
    """Accepts TCP connections (and TLS handshakes when given a context), never answers."""
    return _raw_server(_hang, ssl_context=ssl_context)


def trickling_server(interval: float = 0.05) -> AbstractAsyncContextManager[LoopbackSite]:
    """Answers ``HTTP/1.1 200 OK …`` one byte every ``interval`` seconds, without end."""

    async def trickle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _i: LoopbackSite
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        payload = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
        for i in range(len(payload)):
            writer.write(payload[i : i + 1])
            await writer.drain()
            await asyncio.sleep(interval)  # the server's pace, not a wait in the test

    return _raw_server(trickle)


def counting_http_server(body: bytes = b"ok") -> AbstractAsyncContextManager[LoopbackSite]:
    """A keep-alive HTTP/1.1 server: answers every request with 200 and ``body`` on the same
    connection for as long as the client keeps it, counting connections and requests."""

    async def serve(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: LoopbackSite
    ) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            info.requests += 1
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()

    return _raw_server(serve)


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A 127.0.0.1 port that is bound (so nobody else takes it) but not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()
