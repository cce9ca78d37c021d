"""What a scheduled check is to the parts that only read it: its key and a read-only view.

The daemon schedules :class:`monitord.daemon.ScheduledCheck` values; services, metrics and
heartbeats see them through :class:`CheckView`, so they need not import the daemon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from monitord.config.models import CheckSpec, DnsCheck, HttpCheck, Site, TcpCheck, TlsCheck
from monitord.redact import display_host

if TYPE_CHECKING:
    from monitord.config.models import ClientConfig
    from monitord.incidents import CheckRef

__all__ = ["CheckView", "check_key", "check_target", "site_key"]


def check_key(client: str, site: str, check: str) -> str:
    """The key a check's state, results and incidents are kept under."""
    return f"{client}/{site}/{check}"


def check_target(site: Site, spec: CheckSpec) -> str:
    """What a check probes, as messages may show it (display forms only: no secrets):
    ``https://www.acme.example/``, ``solr.acme.example:8983``; empty for a heartbeat."""
    host = display_host(site.display_url) or site.id
    if isinstance(spec, HttpCheck):
        return site.display_url_of(spec)
    if isinstance(spec, TcpCheck | TlsCheck):
        return f"{spec.host or host}:{spec.port}"
    if isinstance(spec, DnsCheck):
        return spec.name or host
    return ""


def site_key(client: str, site: str) -> str:
    """What a site's incident is serialised on (Pipeline.hold) and stored under (with
    SITE_KEY_PREFIX)."""
    return f"{client}/{site}"


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
