"""The notifier Protocol and the unit the outbox delivers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

from monitord.events import Event

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
