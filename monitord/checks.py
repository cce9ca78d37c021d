"""What a scheduled check is to the parts that only read it: its key and a read-only view.

The daemon schedules :class:`monitord.daemon.ScheduledCheck` values; services, metrics and
heartbeats see them through :class:`CheckView`, so they need not import the daemon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from monitord.config.models import CheckSpec, ClientConfig, Site
    from monitord.incidents import CheckRef

__all__ = ["CheckView", "check_key"]


def check_key(client: str, site: str, check: str) -> str:
    """The key a check's state, results and incidents are kept under."""
    return f"{client}/{site}/{check}"


class CheckView(Protocol):
    """One configured check as the scheduler holds it (read-only)."""

    @property
    def key(self) -> str: ...

    @property
    def client(self) -> ClientConfig: ...

    @property
    def site(self) -> Site: ...

    @property
    def spec(self) -> CheckSpec: ...

    @property
    def ref(self) -> CheckRef: ...
