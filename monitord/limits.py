"""Named limits, each with the reason it exists. Change them here, nowhere else."""

from __future__ import annotations

from datetime import timedelta

# Probes
HTTP_BODY_CAP_BYTES = 1024 * 1024
"""Bytes of a response body a probe reads: enough for any page check, bounded memory per probe."""

PROBE_TIMEOUT_CEILING = timedelta(minutes=2)
"""No check may wait longer than this: a longer timeout hides an outage from everyone."""

DEFAULT_PROBE_TIMEOUT = timedelta(seconds=10)
"""A check without a timeout gives up after this; the sites we watch answer in well under it."""

MAX_REDIRECTS = 10
"""Redirects an http probe follows before failing: browsers stop near 20, real sites need <5."""

# Incidents
FLAP_WINDOW = timedelta(hours=1)
"""Window in which state changes are counted to detect flapping."""

FLAP_TRANSITIONS = 4
"""State changes inside FLAP_WINDOW that make a check "flapping" (one notice, not one per flip)."""

# Outbox
OUTBOX_MAX_ATTEMPTS = 50
"""After this many failed tries (about two days with the backoff below) an item is given up on,
loudly, so a permanently broken destination does not retry forever."""

OUTBOX_BACKOFF_BASE = timedelta(seconds=5)
OUTBOX_BACKOFF_CAP = timedelta(hours=1)
"""Exponential backoff between delivery tries: 5 s doubling, never more than an hour apart."""

OUTBOX_LEASE = timedelta(minutes=5)
"""An item another sender run claimed and left unrecorded this long is taken over while this
run goes on (a run's own in-flight items never are; at start, a gone run's are taken over at
once: monitord.outbox)."""

OUTBOX_STOP_GRACE = timedelta(seconds=10)
"""On SIGTERM, sends already under way get this long to finish and be recorded before they are
cancelled (a cancelled send that the server did accept is sent again after a restart)."""

SMTP_TIMEOUT = timedelta(seconds=30)
"""Per SMTP operation; a hung mail server must not hold the sender."""

# Store
STORE_BATCH_SIZE = 500
STORE_FLUSH_INTERVAL = timedelta(milliseconds=500)
"""Probe results are written in one transaction per batch: SQLite commits are the costly part."""

# Cluster (several nodes on one PostgreSQL store: monitord.cluster)
NODE_HEARTBEAT = timedelta(seconds=10)
"""How often a node records that it is alive (cluster_node.heartbeat): often enough that a
dead node is noticed within NODE_DEAD_AFTER, rare enough to cost nothing (one row)."""

NODE_DEAD_AFTER = 3 * NODE_HEARTBEAT
"""A node whose heartbeat is older than this (three missed heartbeats) is gone: another node
takes its outbox claims back at once instead of waiting out OUTBOX_LEASE. One or two missed
heartbeats (a slow transaction, a database failover) do not count as dead."""

LEADER_POLL = timedelta(seconds=2)
"""How often a follower tries the leader lock: the server frees a dead or isolated leader's
lock within about 15 s (the lock connection's TCP keepalives), so a follower takes over
within 30 s of a leader's death or isolation."""

LEADER_PING = timedelta(seconds=3)
"""How often the leader checks its lock connection (a query with this timeout): a leader cut
off from the database steps down within two pings, well before a follower can take over."""

LEADER_STALL = timedelta(seconds=20)
"""A leader that has not renewed its lease (every LEADER_PING, with the database's clock) for
this long is stalled — a frozen process (SIGSTOP, a VM paused) or an event loop blocked —
and a follower ends its lock session so it can take over. The TCP keepalives do not catch
this: a stopped process's kernel still answers them, so the server would keep its lock for
ever. Six missed pings: a busy but healthy leader is never deposed; takeover within 25 s."""

# File descriptors (monitord.fds)
FD_RESERVE = 128
"""Open files kept out of reach of probes and API clients, for everything else the daemon
needs: stdio, the event loop (epoll, self-pipe), the SQLite store (database, WAL, shared memory,
a journal), the systemd notify socket, the API's listening socket, up to 32 resolver threads
(one UDP socket each while they resolve), SMTP and notifier connections (a few each), the
advisory fetcher's HTTPS connections and drush/composer pipes (three per command)."""

FDS_PER_PROBE = 2
"""Open files one probe may hold at once: its connection, and a resolver socket while its name
is looked up (a redirect closes one connection before opening the next)."""

API_MAX_CONNECTIONS = 64
"""Default cap on concurrent API connections (``http.max_connections``): scrapers, ``status``
and heartbeats need a handful; the rest of the file budget belongs to probes."""

API_LISTEN_BACKLOG = 16
"""The API socket's accept backlog: asyncio accepts up to this many connections per wake-up,
before the cap can close the excess, so it bounds the overshoot."""

API_ACCEPT_OVERSHOOT = 4 * API_LISTEN_BACKLOG
"""Connections accepted but not yet closed past the cap: asyncio hands a new connection to its
protocol two loop turns after accepting it and closes a refused one a turn later, so up to
three accept batches overlap (one more for margin). Measured: under 1,220 connections at once
with a cap of 32, the daemon's open files rose by at most 47 (tests/service/test_api_flood.py)."""

API_BUDGET_SHARE = 4
"""The API (its cap plus the overshoot) gets at most 1/API_BUDGET_SHARE of the open files left
after FD_RESERVE; a larger http.max_connections is lowered to fit, with a warning."""

API_IDLE_TIMEOUT = timedelta(seconds=15)
API_HEADER_TIMEOUT = timedelta(seconds=10)
API_REQUEST_TIMEOUT = timedelta(seconds=30)
"""API connection deadlines: idle (no request under way) since it opened or its last response;
a request's line and headers complete after its first byte; a request's body and answer.
Each endpoint answers in milliseconds; only a stalled or hostile client meets them."""

STORE_RETRY_FIRST = timedelta(seconds=1)
STORE_RETRY_CAP = timedelta(seconds=30)
"""A durable write (a state change with its notifications) that the store refused (locked by
another program, disk full) is tried again after 1 s, doubling, at most 30 s apart, until it is
stored: a notice is never dropped, and a store that comes back is used within half a minute."""


HEALTH_STORE_TIMEOUT = timedelta(seconds=2)
"""How long ``/readyz`` and a ``/metrics`` scrape wait for the store. While another program
holds the SQLite file's lock, every statement on the store's one thread waits out its busy
timeout, so an unbounded health check answered only after 15 s and a scrape not at all: a
probe with a 1-5 s timeout (systemd, a load balancer) or Prometheus's 10 s default saw a
timeout, not "store failing". Past this, ``/readyz`` says the store is not answering and the
scrape leaves out the figures it reads from the store (``monitord_store_answering`` 0)."""
