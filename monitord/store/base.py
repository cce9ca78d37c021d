"""The store contract: what the daemon keeps between runs, behind one Protocol.

The store knows nothing of incident logic. Per check key it keeps an opaque JSON state that
the incident engine owns, the latest probe result, the incidents table, a small key/value
meta table (feed ETags and the like) and the notification outbox.

Every datetime passed in must be timezone-aware; the store keeps instants as UTC ISO 8601 text
and hands back aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, Protocol

from monitord.errors import StoreError
from monitord.notify.base import Notification

OutboxStatus = Literal["pending", "sending", "sent", "failed"]

PENDING: Final = "pending"
"""Waiting for its ``due_at``; the sender claims it then."""
SENDING: Final = "sending"
"""Claimed by a sender run (``run_id``) at ``claimed_at``; ``attempt_started`` is set when its
send begins. Left so by a run that is gone, it is recovered by the next run at its start
(Store.recover): back to pending if its send had not begun, else *uncertain*."""
SENT: Final = "sent"
"""Delivered; ``external_id`` is what the destination made (Message-ID, ticket id)."""
FAILED: Final = "failed"
"""Given up on (permanent error, too many attempts, notifier gone); ``last_error`` says why."""

OUTBOX_STATUSES: Final[tuple[str, ...]] = (PENDING, SENDING, SENT, FAILED)


@dataclass(frozen=True, slots=True)
class ResultRow:
    """The latest probe result of one check, as ``monitord status`` shows it."""

    key: str
    """The check's key (the same key its state is kept under)."""
    client: str
    site: str
    check: str
    ok: bool
    message: str
    warning: str | None
    duration: float
    """Seconds the probe took."""
    at: datetime
    """When the probe finished (aware UTC)."""
    details: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable facts from the probe (``status``, ``cert_days_left``…)."""


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """One incident; written (upserted by ``id``) by the incident engine."""

    id: str
    """Chosen by the incident engine and stable for the incident's life (upsert key)."""
    key: str
    """The check key the incident belongs to."""
    client: str
    site: str
    check: str
    started: datetime
    ended: datetime | None
    """None while the incident is open."""
    summary: str
    last_message: str


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One notification in the outbox, as a sender claims it."""

    id: int
    key: str
    """The notification's idempotency key (unique in the outbox)."""
    notifier: str
    notification: Notification
    attempts: int
    """Delivery tries so far, counting the one in progress for a claimed item."""
    due_at: datetime
    status: str
    """One of PENDING, SENDING, SENT, FAILED."""
    last_error: str | None
    created: datetime
    external_id: str | None
    uncertain: bool = False
    """Recovered from a sender run that is gone after its send began: it may have been
    delivered (Store.recover)."""


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    """Items not yet delivered nor given up on (pending + sending)."""
    oldest_age_seconds: float
    """Age of the oldest undelivered item at ``now``; 0.0 when there is none."""
    failed: int
    """Items given up on."""


class Store(Protocol):
    """Durable state. Implementations: store.sqlite.SqliteStore,
    store.postgres.PostgresStore. The behaviour every
    implementation must show is tests/store/contract/ (docs/ARCHITECTURE.md, "Adding a store
    backend")."""

    flush_listeners: list[Callable[[StoreError | None], None]]
    """Told after each background flush of batched writes: its error, or None when it
    committed (the daemon's store health, monitord.pipeline)."""

    async def open(self) -> None:
        """Create or upgrade the store; raises errors.StoreError saying what to do."""

    async def close(self) -> None:
        """Flush batched writes, then release the store."""

    async def flush(self) -> None:
        """Commit the batched writes now."""

    async def load_states(self) -> dict[str, dict[str, Any]]:
        """Every check key's last state (as written by ``write``)."""

    async def write(
        self,
        key: str,
        state: dict[str, Any],
        result: ResultRow | None,
        notifications: Sequence[Notification] = (),
        incident: IncidentRow | None = None,
        *,
        now: datetime,
        also: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        """Save a check's state and latest result, and optionally an incident and notifications.

        ``also``: more states (a site incident's, by its key) saved durably in the same
        transaction.

        With notifications or an incident the write is durable when this returns, in one
        transaction with the state. Otherwise it is batched (committed within
        limits.STORE_FLUSH_INTERVAL); a later write to the same key supersedes an earlier one
        not yet committed. Writes to one key are applied in call order.
        """

    async def latest_results(self) -> dict[str, ResultRow]:
        """The latest result per check key."""

    async def open_incidents(self) -> list[IncidentRow]:
        """Incidents not yet ended, oldest first."""

    async def incidents(self, limit: int = 100) -> list[IncidentRow]:
        """The most recently started incidents, newest first."""

    async def enqueue(
        self,
        notifications: Sequence[Notification],
        now: datetime,
        due_at: datetime | None = None,
    ) -> int:
        """Add notifications to the outbox (due at ``due_at``, default ``now``).

        Idempotent: a key already in the outbox is ignored. Returns how many were new. An item
        is never due before the open items ahead of it to the same notifier and recipient in
        its thread (delivery in order per destination).
        """

    async def claim_due(
        self, now: datetime, limit: int, run_id: str = "", busy: Collection[str] = ()
    ) -> list[OutboxItem]:
        """Claim up to ``limit`` pending items due at or before ``now`` for sender run
        ``run_id``, oldest due first, leaving out the notifiers named in ``busy``.

        In order per destination: an item is not claimed while an older one to the same
        notifier and recipient in the same event thread is still open (an item is never due
        before those, see ``enqueue``). Each becomes SENDING, claimed at ``now``, with one
        more attempt counted.
        """

    async def claim_group(self, group: str, now: datetime, run_id: str = "") -> list[OutboxItem]:
        """Claim the pending items of one storm group that are due (those a batch left out),
        so a group larger than a claim batch still goes out as one message."""

    async def mark_attempt(self, item_ids: Sequence[int], now: datetime, run_id: str) -> None:
        """Record that the send of these claimed items begins now (before it begins)."""

    async def recover(
        self, run_id: str, now: datetime, claimed_before: datetime
    ) -> list[OutboxItem]:
        """Take over the SENDING items another run claimed before ``claimed_before``.

        With one daemon on a store such a run is gone. Items whose send had not begun go back
        to pending (that attempt not counted). The others are returned, claimed by ``run_id``
        and flagged ``uncertain``: they may have been delivered.

        Several nodes on one PostgreSQL store (run ids ``<node>/<token>``): only the claims of
        this node's earlier runs, of a node whose heartbeat is older than
        limits.NODE_DEAD_AFTER, or older than limits.OUTBOX_LEASE are taken; a live node's
        claims in flight never are.
        """

    async def mark_sent(self, item_id: int, now: datetime, external_id: str | None) -> None: ...

    async def mark_retry(self, item_id: int, now: datetime, due_at: datetime, error: str) -> None:
        """Back to PENDING, due again at ``due_at``."""

    async def mark_failed(self, item_id: int, now: datetime, error: str) -> None: ...

    async def outbox_stats(self, now: datetime) -> OutboxStats: ...

    async def outbox_items(self, status: str | None = None, limit: int = 100) -> list[OutboxItem]:
        """Items (optionally of one status), newest first."""

    async def get_meta(self, key: str) -> str | None: ...

    async def add_meta(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless a value is there already; return the stored
        one. Two nodes making the same record at once (a heartbeat check's token) agree."""
        ...

    async def set_meta(self, key: str, value: str, *, leader_only: bool = True) -> None:
        """Store ``value`` under ``key``. Several nodes on PostgreSQL: a leader's decision
        (routing state, feed validators) is fenced by the leader epoch; a node's own record
        (``leader_only=False``: a heartbeat received, the readiness probe) is not."""
        ...

    async def prune(
        self,
        *,
        sent_before: datetime,
        failed_before: datetime,
        incidents_before: datetime,
    ) -> Pruned:
        """Delete what is finished and older than its retention (config ``state.retention``):
        delivered outbox rows (and the ticket operations' idempotency records) before
        ``sent_before``, rows given up on before ``failed_before``, incidents ended, patch-day
        items ticketed, local tickets and external ticket references resolved before
        ``incidents_before``. Pending and sending rows, open incidents and unresolved tickets
        are never touched; pruned outbox rows still count in StoreReader.extras."""


# ---------------------------------------------------------------- security advisories

Decided = Literal["now", "patch-day", "unknown", "none"]


@dataclass(frozen=True, slots=True)
class AdvisoryRow:
    """One advisory as last seen from one source (``rss`` or ``psa-json:<package>``)."""

    id: str
    source: str
    fingerprint: str
    data: dict[str, Any]
    """``Advisory.to_json()``."""
    first_seen: datetime
    last_seen: datetime
    history: tuple[str, ...] = ()
    """Fingerprints it had before, oldest first (a re-served old version is not a revision)."""


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """What was decided for one (advisory, site) pair, and on which facts."""

    advisory: str
    site: str
    client: str
    fingerprint: str
    """The advisory fingerprint decided on (decide.decision_fingerprint)."""
    installed: str | None
    """The installed version decided on; None when unknown or not installed."""
    decision: Decided
    patch_day: datetime | None
    reason: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class PatchItemRow:
    """One queued maintenance item for a site's next patch day."""

    site: str
    advisory: str
    client: str
    project: str
    installed: str
    fixed: str | None
    link: str
    patch_day: datetime
    queued_at: datetime
    ticketed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SecurityChanges:
    """Everything one advisory poll decided, written in ONE transaction with its notifications,
    so a crash can never leave a decision without its mail or a mail without its decision."""

    advisories: Sequence[AdvisoryRow] = ()
    """Upserted by (id, source)."""
    decisions: Sequence[DecisionRow] = ()
    """Upserted by (advisory, site)."""
    queue_add: Sequence[PatchItemRow] = ()
    """Upserted by (site, advisory); an item already ticketed keeps its ticketed_at."""
    queue_remove: Sequence[tuple[str, str]] = ()
    """(site, advisory) pairs no longer due; only items not yet ticketed are removed."""
    ticketed: Sequence[tuple[str, str]] = ()
    """(site, advisory) pairs ticketed now (their patch-day notice is in ``notifications``)."""
    notifications: Sequence[tuple[Notification, datetime]] = ()
    """Each with its due time (a PSA heads-up is due shortly before the announced window)."""

    def __bool__(self) -> bool:
        return bool(
            self.advisories
            or self.decisions
            or self.queue_add
            or self.queue_remove
            or self.ticketed
            or self.notifications
        )


class SecurityStore(Protocol):
    """The advisory part of the store (store.sqlite.SqliteStore implements it)."""

    async def load_advisories(self) -> list[AdvisoryRow]: ...

    async def load_decisions(self) -> dict[tuple[str, str], DecisionRow]:
        """Keyed by (advisory, site)."""

    async def patch_queue(self, *, pending_only: bool = True) -> list[PatchItemRow]:
        """Queued items (by default only those not yet ticketed), by patch day, site, advisory."""

    async def save_security(self, changes: SecurityChanges, now: datetime) -> int:
        """Apply ``changes`` atomically; returns how many notifications were new."""


# ---------------------------------------------------------------- local tickets

TicketStatus = Literal["open", "acked", "resolved"]

TicketOutcome = Literal["opened", "commented", "resolved", "duplicate", "nothing"]
"""What applying one notification to the local tickets did (monitord.tickets.plan_action)."""


@dataclass(frozen=True, slots=True)
class LocalTicketRow:
    """One ticket kept by the built-in ``tickets-local`` notifier (monitord.tickets)."""

    id: int
    thread: str
    """The event thread (incident or advisory) the ticket is about; unique."""
    client: str
    site: str | None
    check: str | None
    kind: str
    """The kind of the event that opened it."""
    priority: str
    """urgent, high, normal or low (monitord.tickets.PRIORITIES)."""
    title: str
    body: str
    opened_at: datetime
    """The opening event's time (UTC)."""
    respond_by: datetime
    """One working hour after ``opened_at`` (BusinessCalendar.respond_by), UTC."""
    status: TicketStatus
    acked_at: datetime | None = None
    acked_by: str | None = None
    resolved_at: datetime | None = None
    reminded_at: datetime | None = None
    """When its ``ticket-overdue`` reminder was queued (once only)."""


@dataclass(frozen=True, slots=True)
class TicketNoteRow:
    """One change to a local ticket: opened, comment, recovered, ack, resolve, reminder."""

    ticket_id: int
    key: str
    at: datetime
    kind: str
    text: str
    by: str | None = None


@dataclass(frozen=True, slots=True)
class TicketRefRow:
    """The ticket an external ticket notifier made for a thread."""

    notifier: str
    thread: str
    external_id: str
    created: datetime
    resolved_at: datetime | None = None


class TicketStore(Protocol):
    """The ticket part of the store (store.sqlite.SqliteStore implements it)."""

    async def apply_local_ticket(
        self,
        ticket: Any,
        key: str,
        resolving: bool,
        text: str,
        now: datetime,
    ) -> tuple[TicketOutcome, LocalTicketRow | None]:
        """Apply one notification to the local ticket of ``ticket.thread`` (a
        monitord.tickets.Ticket), atomically: open it, comment on it, or comment and resolve
        it; a ``key`` already applied changes nothing (``duplicate``)."""

    async def local_tickets(
        self, *, open_only: bool = False, client: str | None = None, limit: int = 1000
    ) -> list[LocalTicketRow]:
        """Local tickets, newest first; ``open_only``: not resolved (open or acked)."""

    async def local_ticket(
        self, ticket_id: int
    ) -> tuple[LocalTicketRow, list[TicketNoteRow]] | None:
        """One ticket with its notes (oldest first), or None."""

    async def ack_local_ticket(
        self, ticket_id: int, by: str | None, now: datetime
    ) -> LocalTicketRow | None:
        """Acknowledge an open ticket (a no-op on one acked or resolved); None if unknown."""

    async def resolve_local_ticket(
        self, ticket_id: int, note: str | None, now: datetime
    ) -> LocalTicketRow | None:
        """Resolve a ticket (a no-op on one resolved); None if unknown."""

    async def remind_local_tickets(
        self, reminders: Mapping[int, Sequence[Notification]], now: datetime
    ) -> int:
        """For each ticket id still open and not reminded: mark it reminded and queue its
        reminders, all in one transaction (a ticket acked meanwhile gets none). Returns how
        many tickets were marked."""

    async def ticket_applied(self, notifier: str, key: str) -> str | None:
        """The external id recorded when ``notifier`` applied notification ``key``, or None."""

    async def ticket_ref(self, notifier: str, thread: str) -> TicketRefRow | None: ...

    async def record_ticket(
        self,
        notifier: str,
        thread: str,
        key: str | None,
        external_id: str,
        now: datetime,
        *,
        resolved: bool = False,
    ) -> None:
        """Remember the ticket of ``thread`` (kept if already known) and, with ``key``, that
        this notification was applied; ``resolved`` marks the ticket resolved."""


@dataclass(frozen=True, slots=True)
class Pruned:
    """Rows one retention pass deleted (SqliteStore.prune)."""

    sent: int = 0
    """Delivered outbox rows."""
    failed: int = 0
    """Outbox rows given up on."""
    incidents: int = 0
    """Ended incidents."""
    patch_items: int = 0
    """Ticketed patch-day queue rows."""
    ticket_applied: int = 0
    """Idempotency records of ticket operations (kept as long as delivered outbox rows)."""
    tickets: int = 0
    """Resolved local tickets (with their notes) and resolved external ticket references."""

    def __bool__(self) -> bool:
        return any(
            (
                self.sent,
                self.failed,
                self.incidents,
                self.patch_items,
                self.ticket_applied,
                self.tickets,
            )
        )


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """A patch-day queue row as ``monitord status`` and the status page list it."""

    client: str
    site: str
    advisory: str
    project: str
    installed: str
    fixed: str | None
    link: str
    patch_day: str


@dataclass(frozen=True, slots=True)
class StoreExtras:
    """Aggregates another process reads from a store (StoreReader.extras)."""

    notifications: dict[tuple[str, str], int] = field(default_factory=dict)
    """(notifier, outbox status) -> items."""
    advisories_seen: int | None = None
    """Distinct advisories ever seen; None when the store has no advisory table."""
    patch_queue_pending: int | None = None
    """Items queued for a patch day and not yet ticketed; None without the table."""
    patch_queue: tuple[QueuedItem, ...] = ()


class StoreReader(Protocol):
    """A read-only view of a store for another process (``monitord status``, /metrics): no
    daemon lock, no migration, blocking (run it on a thread). Implementations:
    store.sqlite.reader.SqliteReader, store.postgres.reader.PgReader."""

    def extras(self) -> StoreExtras:
        """Notifications by notifier and status (pruned rows still counted), advisories seen
        and the pending patch-day queue; empty when there is no store yet."""

    def meta(self, prefix: str) -> dict[str, str]:
        """Meta rows whose key starts with ``prefix``; empty when there is no store yet."""

    def close(self) -> None:
        """Let go of what the reader holds open (a connection); harmless twice."""
