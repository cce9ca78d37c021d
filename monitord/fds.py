"""The daemon's budget of open files, so API clients can never take the ones probes and mail
need.

Every probe, API connection, SMTP session and store file is a file descriptor, and the process
has ``RLIMIT_NOFILE`` of them (a soft 1024 for a systemd service unless ``LimitNOFILE=`` says
more; raising it from inside may be refused: the shipped unit's ``SystemCallFilter=~@resources``
filters ``setrlimit``). Once they are gone every new socket fails with EMFILE, "too many open
files": a probe would fail for a reason that has nothing to do with its site. So the budget is
split at start:

* ``FD_RESERVE`` for the store, SMTP, notifiers, resolver threads and the rest (limits.py);
* the API: its connection cap plus the accept overshoot, at most 1/API_BUDGET_SHARE of the rest;
* probes: what is left, FDS_PER_PROBE each, as the number of probes in flight at once.

:func:`needed_fds` is the limit at which every check can be probed at the same moment (the
scheduler runs at most one probe per check): ``monitord check-config`` and the daemon warn
below it, and ``LimitNOFILE=`` should be at least it (docs/service.md).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

from monitord.config.models import Config, HeartbeatCheck
from monitord.limits import (
    API_ACCEPT_OVERSHOOT,
    API_BUDGET_SHARE,
    FD_RESERVE,
    FDS_PER_PROBE,
)

FD_LIMIT_CEILING = 1 << 20
"""The soft limit is raised to at most this (Linux's default ``fs.nr_open``) when the hard
limit is unlimited."""


@dataclass(frozen=True, slots=True)
class FdPlan:
    """How the open-file limit is shared out."""

    limit: int
    """The soft RLIMIT_NOFILE the daemon runs under."""
    api_connections: int
    """Concurrent API connections accepted; more are closed at once."""
    probes: int
    """Probes in flight at once."""
    needed: int
    """The limit at which every check of the configuration could be probed at once."""

    @property
    def short(self) -> bool:
        """Whether the limit is below what the configuration needs."""
        return self.limit < self.needed


def probe_checks(config: Config) -> int:
    """Checks that open sockets when probed (heartbeats are pushed to the API: none)."""
    return sum(1 for _c, _s, spec in config.iter_checks() if not isinstance(spec, HeartbeatCheck))


def api_fds(connections: int) -> int:
    """Open files the API may hold: its cap plus connections accepted before the cap acts."""
    return connections + API_ACCEPT_OVERSHOOT


def needed_fds(checks: int, api_connections: int, max_probes: int) -> int:
    """``FD_RESERVE + (api_connections + API_ACCEPT_OVERSHOOT) + FDS_PER_PROBE × min(checks,
    max_probes)``: the limit at which the reserve, the API and one probe of every check fit."""
    return FD_RESERVE + api_fds(api_connections) + FDS_PER_PROBE * min(checks, max_probes)


def plan_fds(limit: int, *, checks: int, api_max_connections: int, max_probes: int) -> FdPlan:
    """Share ``limit`` open files out (pure). Never less than one API connection and one probe,
    so a tiny limit degrades (slow probing) instead of stopping; the daemon warns then."""
    spare = max(limit - FD_RESERVE, 0)
    api_room = spare // API_BUDGET_SHARE - API_ACCEPT_OVERSHOOT
    api = max(1, min(api_max_connections, api_room))
    probes = max(1, min(max_probes, (spare - api_fds(api)) // FDS_PER_PROBE))
    return FdPlan(
        limit=limit,
        api_connections=api,
        probes=probes,
        needed=needed_fds(checks, api_max_connections, max_probes),
    )


def limit_warning(soft: int, hard: int, checks: int, needed: int) -> str | None:
    """What ``check-config`` prints when the limit the daemon could reach (the hard one) is
    below what ``checks`` need; None when it is enough (pure)."""
    if hard >= needed:
        return None
    return (
        f"warning: the open-file limit here is {soft} (hard {hard}), and these {checks} checks "
        f"need {needed}: set LimitNOFILE={needed} or more in the unit (systemctl edit monitord) "
        '— docs/service.md, "Open files"'
    )


def raise_fd_limit() -> tuple[int, int, str | None]:
    """Raise the soft RLIMIT_NOFILE to the hard one when allowed. Returns ``(soft, hard,
    error)``: the limits now in force, and why raising failed (None when it did not)."""
    soft, hard = current_fd_limit()
    if soft >= hard:
        return soft, hard, None
    raw_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, raw_hard))
    except (OSError, ValueError) as exc:
        # Under SystemCallFilter=~@resources setrlimit is refused (EPERM): LimitNOFILE= rules.
        return soft, hard, str(exc)
    return hard, hard, None


def _finite(n: int) -> int:
    return FD_LIMIT_CEILING if n == resource.RLIM_INFINITY else n


def current_fd_limit() -> tuple[int, int]:
    """``(soft, hard)`` RLIMIT_NOFILE of this process (unlimited read as FD_LIMIT_CEILING)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return _finite(soft), _finite(hard)
