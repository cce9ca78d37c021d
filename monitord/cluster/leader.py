"""Who leads the cluster: a PostgreSQL session advisory lock on a connection of its own.

Every node runs one :class:`Leadership`. A follower tries the lock every ``poll``; the node
that gets it raises the cluster's epoch (store.postgres.cluster.take_leader_lock) and is told
``on_elected(epoch)``: the epoch is its fencing token (the store's ``fence_epoch``), so a
leader that lost the lock without knowing it has its writes refused once another node is
elected. The leader checks its lock connection every ``ping`` (a query with ``ping`` as its
timeout); any failure ends its leadership at once (``on_lost(reason)``), the connection is
closed and the node is a follower again.

The lock connection carries TCP keepalives on both ends (LOCK_TCP_*): a leader cut off from
the database (a dead host, a network partition) has its session, and so its lock, ended by
the server within about 15 s, and a follower polling every limits.LEADER_POLL takes over
within 30 s of the death or isolation. The isolated leader meanwhile stops within two pings.

Each ping also renews the leader's lease (``cluster_leader.renewed``, the database's clock). A
leader that is alive to TCP but does nothing — a stopped process, a paused VM, a blocked event
loop — keeps its session (its kernel answers the keepalives); a follower that finds the lease
older than limits.LEADER_STALL ends that session (``pg_terminate_backend``) and takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg

from monitord import limits
from monitord.logsetup import get_logger
from monitord.store.postgres import pg_connect
from monitord.store.postgres.cluster import (
    depose_stalled_leader,
    ping_leader_lock,
    release_leader_lock,
    take_leader_lock,
)

LEADER_POLL = limits.LEADER_POLL
LEADER_PING = limits.LEADER_PING

LOCK_TCP_KEEPALIVES_IDLE_S = 5
LOCK_TCP_KEEPALIVES_INTERVAL_S = 2
LOCK_TCP_KEEPALIVES_COUNT = 3
LOCK_TCP_USER_TIMEOUT_MS = 10_000
"""The lock connection's keepalives (server side as server_settings, client side on the
socket): the first probe after 5 s of silence, then every 2 s, 3 unanswered end the session
(5 + 3 × 2 = 11 s), and data unacknowledged for 10 s ends it too. So the server drops an
isolated leader's session, and its lock, within about 15 s, and a follower takes over within
30 s; the defaults (2 hours of silence) would hold the lock that long."""

RETRY_AFTER_LOSS = 2
"""Polls a node that lost its lock waits before trying for it again: its connection has just
failed (its network, most likely), so a healthy follower, polling every poll, takes over
first."""

_ERRORS = (Exception,)
"""What ends a lead (or a try for it): any failure of the lock connection. Not only the
database's and the network's errors: a session the server ended while this node's event loop
was busy meets the next query with asyncpg's own InternalClientError ("cannot switch to
state …"), and an error left uncaught here would end the election task silently, the node
believing it leads for ever. Only cancellation (the daemon stopping) passes."""


async def _lock_connection(url: str, node: str) -> asyncpg.Connection:
    conn = await pg_connect(
        url,
        f"monitord leader {node}",
        {
            "tcp_keepalives_idle": str(LOCK_TCP_KEEPALIVES_IDLE_S),
            "tcp_keepalives_interval": str(LOCK_TCP_KEEPALIVES_INTERVAL_S),
            "tcp_keepalives_count": str(LOCK_TCP_KEEPALIVES_COUNT),
            "tcp_user_timeout": str(LOCK_TCP_USER_TIMEOUT_MS),
        },
    )
    _keepalive(getattr(conn, "_transport", None))
    return conn


def _keepalive(transport: Any) -> None:
    """The same keepalives on the client's end (a unix socket has none to set)."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", LOCK_TCP_KEEPALIVES_IDLE_S),
        ("TCP_KEEPINTVL", LOCK_TCP_KEEPALIVES_INTERVAL_S),
        ("TCP_KEEPCNT", LOCK_TCP_KEEPALIVES_COUNT),
        ("TCP_USER_TIMEOUT", LOCK_TCP_USER_TIMEOUT_MS),
    ):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


class Leadership:
    """This node's part in the election (see the module docstring)."""

    def __init__(
        self,
        url: str,
        node: str,
        *,
        on_elected: Callable[[int], Awaitable[None]],
        on_lost: Callable[[str], Awaitable[None]],
        poll: timedelta = LEADER_POLL,
        ping: timedelta = LEADER_PING,
        stall: timedelta = limits.LEADER_STALL,
    ) -> None:
        self._url = url
        self._node = node
        self._on_elected = on_elected
        self._on_lost = on_lost
        self._poll = poll.total_seconds()
        self._ping = ping
        self._stall = stall
        self._conn: asyncpg.Connection | None = None
        self._epoch: int | None = None
        self._resigned = False
        self._wait_polls = 0
        self._lock = asyncio.Lock()
        self._log = get_logger(component="cluster", node=node)

    @property
    def leader(self) -> bool:
        """Whether this node leads now."""
        return self._epoch is not None

    @property
    def epoch(self) -> int | None:
        """The epoch this node was elected with; None while it follows."""
        return self._epoch

    async def run(self) -> None:
        """Follow and lead until cancelled (or resigned); raises nothing but CancelledError."""
        try:
            while not self._resigned:
                if self._epoch is None:
                    await self._follow()
                    if self._epoch is None:
                        await asyncio.sleep(self._poll)
                else:
                    await asyncio.sleep(self._ping.total_seconds())
                    await self._check()
        finally:
            self._drop()
        # (_follow and _check take every error as a failed try or a lost lock: run() itself
        # ends only when resigned or cancelled.)

    async def resign(self) -> None:
        """Stop cleanly: let go of the lock (another node takes over at its next poll), close
        the connection; ``run`` returns."""
        self._resigned = True
        async with self._lock:
            conn, was = self._conn, self._epoch
            self._epoch = None
            if conn is not None and not conn.is_closed() and was is not None:
                with contextlib.suppress(*_ERRORS):
                    await asyncio.wait_for(release_leader_lock(conn), self._ping.total_seconds())
                self._log.info("cluster.resigned", epoch=was)
            if conn is not None:
                with contextlib.suppress(*_ERRORS):
                    await asyncio.wait_for(conn.close(), self._ping.total_seconds())
            self._drop()

    # -- inside -----------------------------------------------------------------------------

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def _follow(self) -> None:
        if self._wait_polls > 0:
            self._wait_polls -= 1
            return
        async with self._lock:
            if self._resigned:
                return
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await _lock_connection(self._url, self._node)
                epoch = await take_leader_lock(self._conn, self._node)
            except _ERRORS as exc:
                self._drop()
                self._log.warning(
                    "cluster.leader_connect_failed",
                    error=f"{type(exc).__name__}: {exc}",
                    hint="this node follows and tries again at the next poll",
                )
                return
            if epoch is None:
                await self._depose_if_stalled(self._conn)
                return
            self._epoch = epoch
        self._log.info("cluster.elected", epoch=epoch)
        try:
            await self._on_elected(epoch)
        except Exception as exc:
            await self._lose(f"taking the lead failed: {type(exc).__name__}: {exc}")

    async def _check(self) -> None:
        async with self._lock:
            conn = self._conn
            if self._epoch is None:
                return
            try:
                if conn is None:
                    raise LookupError("the lock connection is gone")
                await asyncio.wait_for(
                    ping_leader_lock(conn, self._ping, self._epoch), self._ping.total_seconds()
                )
                return
            except _ERRORS as exc:
                reason = f"the leader lock's connection failed: {type(exc).__name__}: {exc}"
        await self._lose(reason)

    async def _depose_if_stalled(self, conn: asyncpg.Connection) -> None:
        """Another node holds the lock: when it has stopped renewing its lease (a frozen
        process keeps its session open: the kernel answers the keepalives), end its lock
        session so this or another follower takes over at the next poll."""
        try:
            deposed = await depose_stalled_leader(conn, self._stall)
        except _ERRORS as exc:
            self._drop()
            self._log.warning("cluster.leader_check_failed", error=f"{type(exc).__name__}: {exc}")
            return
        if deposed is not None:
            self._log.warning(
                "cluster.leader_stalled",
                leader=deposed,
                hint="its lock session was ended; a follower takes over at the next poll, and "
                "the stalled node's late writes are refused by the epoch",
            )

    async def _lose(self, reason: str) -> None:
        was, self._epoch = self._epoch, None
        self._drop()
        self._wait_polls = RETRY_AFTER_LOSS
        self._log.warning("cluster.leader_lost", epoch=was, reason=reason)
        try:
            await self._on_lost(reason)
        except Exception as exc:
            self._log.error("cluster.on_lost_failed", error=f"{type(exc).__name__}: {exc}")
