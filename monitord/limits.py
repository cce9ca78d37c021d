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
