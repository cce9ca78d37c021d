"""The notifier Protocol and the unit the outbox delivers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol, runtime_checkable

from monitord.events import Event

__all__ = [
    "NOTIFIER_API_VERSION",
    "Notification",
    "Notifier",
    "is_mergeable",
]

NOTIFIER_API_VERSION = 1


@dataclass(frozen=True, slots=True)
class Notification:
    """One event for one destination. ``key`` is unique in the outbox (idempotency)."""

    key: str
    notifier: str
    """The configured notifier's name (``email``, ``oncall-pager``…)."""
    recipient: str
    """An address for notifiers that send to people; empty for fixed destinations."""
    recipient_name: str
    event: Event
    due_at: datetime | None = None
    """Not to be sent before this (held to the next office start, or a storm group's end);
    None: as soon as it is enqueued (or at the due time its enqueuer gives)."""
    group: str | None = None
    """Items of one group due together are merged into one send by a mergeable notifier
    (monitord.storm); None: sent on its own."""
    page: bool = False
    """For whoever is on call (the ``oncall-pager`` target): never delayed by storm grouping."""


@runtime_checkable
class Notifier(Protocol):
    """Delivers notifications. Raise errors.RetryableError or errors.PermanentError on failure.

    ``send`` returns the destination's id for what it made (a Message-ID, a ticket id) or None.
    It must be idempotent on ``notification.key``: the outbox may call it twice for one key
    after a crash, and the second call must not create a second visible thing.
    """

    api_version: ClassVar[int]
    name: str

    async def send(self, notification: Notification) -> str | None: ...

    async def aclose(self) -> None: ...


def is_mergeable(notifier: object) -> bool:
    """Whether ``notifier`` can send several notifications as one message (a digest).

    A notifier says so with a class attribute ``mergeable = True`` (e-mail does). The safe
    default is False: paging notifiers deduplicate per incident, so merging across threads
    would lose alerts.
    """
    return getattr(notifier, "mergeable", False) is True
