"""``tickets-local``: tickets kept in monitord's own store (the default ticket notifier).

One ticket per event thread (monitord.tickets): the first event opens it with a priority,
the respond-by time, a title and a body; later events of the thread are added as notes; the
site's recovery adds a note and resolves it. People work them with ``monitord tickets list |
show | ack | resolve``, and the SLA service (monitord.tickets_sla) reminds the agency of an
open ticket not acknowledged by its respond-by time.

Idempotency: each notification's key is recorded with its note in the same transaction as the
change, so an outbox re-send after a crash changes nothing.

The store is the daemon's (``ctx.store``; tests may set one with
:meth:`LocalTicketsNotifier.attach_store`); without one (``monitord notify
test`` outside a daemon) it opens the store file itself, given the ``path`` option or, failing
that, refuses with a message saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from monitord.calendar.hours import agency_calendar
from monitord.errors import RetryableError, StoreError
from monitord.notify.base import NOTIFIER_API_VERSION, Notification
from monitord.notify.plugins import NotifierContext
from monitord.tickets import RESOLVING_KINDS, comment_for, ticket_for

if TYPE_CHECKING:
    from monitord.store.base import Store

TYPE = "tickets-local"


class LocalTicketsNotifier:
    """Opens, comments on and resolves tickets in the monitord store."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION
    resend_is_harmless: ClassVar[bool] = True
    """The notification's key is stored with its change in one transaction: applying it
    again changes nothing (monitord.outbox)."""

    class Options(BaseModel):
        """``tickets-local`` needs no options: tickets live in the state store (state.path)."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        path: Path | None = None
        """Only outside a daemon: the state store to write to (default: the daemon's)."""

    def __init__(self, name: str, options: Options, ctx: NotifierContext) -> None:
        self.name = name
        self._ctx = ctx
        self._options = options
        self._store: Store | None = ctx.store
        self._own: Store | None = None
        self._calendar = agency_calendar(ctx.agency)

    def attach_store(self, store: Store) -> None:
        """Use this store (the daemon passes its own in ``ctx.store``; tests set one here)."""
        self._store = store

    async def _get_store(self) -> Store:
        if self._store is not None:
            return self._store
        if self._options.path is None:
            # The built-in `tickets` has no entry in monitord.yml to add a `path` to: say
            # how to write one.
            raise RetryableError(
                f"notifier {self.name!r} (tickets-local) has no state store yet: local "
                "tickets are written by the running daemon — send through `monitord run`, or "
                "for a test give it a `path` to the state store in monitord.yml: "
                f"`notifiers: {{{self.name}: {{type: tickets-local, path: state.sqlite3}}}}`"
            )
        from monitord.store.sqlite import SqliteStore

        path = self._options.path
        if not path.is_absolute():
            path = self._ctx.config_dir / path
        own = SqliteStore(path)
        await own.open()
        self._own = own
        self._store = own
        return own

    async def send(self, notification: Notification) -> str | None:
        event = notification.event
        store = await self._get_store()
        ticket = ticket_for(event, self._calendar, self._ctx.agency.name)
        try:
            outcome, row = await store.apply_local_ticket(  # type: ignore[attr-defined]
                ticket,
                notification.key,
                event.kind in RESOLVING_KINDS,
                comment_for(event, self._calendar.zone),
                self._ctx.clock(),
            )
        except StoreError as exc:
            raise RetryableError(f"{exc} — will retry") from None
        self._ctx.log.info(
            "tickets_local.applied",
            notifier=self.name,
            outcome=outcome,
            ticket=row.id if row is not None else None,
            kind=event.kind,
            client=event.client,
            site=event.site,
        )
        return f"local-{row.id}" if row is not None else None

    async def aclose(self) -> None:
        if self._own is not None:
            await self._own.close()
            self._own = None
            self._store = self._ctx.store
