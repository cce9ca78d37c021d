"""The small error hierarchy. Every message says what to do next."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "FencedError",
    "MonitordError",
    "NotifierError",
    "NotifierTypeError",
    "PermanentError",
    "ProbeSetupError",
    "RetryableError",
    "SecretNotFoundError",
    "StoreError",
    "VersionError",
]


class MonitordError(Exception):
    """Base of every error monitord raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in one configuration file, located for the user."""

    file: str
    line: int
    col: int
    path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        path = self.path or "(top level)"
        return f"{where}: {path}: {self.problem} — {self.fix}"


class ConfigError(MonitordError):
    """The configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues) or "invalid configuration")


class NotifierTypeError(MonitordError):
    """A notifier type cannot be used: ``problem`` and ``fix`` as in a config message."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} — {fix}")


class SecretNotFoundError(MonitordError):
    """A ``${NAME}`` reference names neither an environment variable nor a credential file."""


class StoreError(MonitordError):
    """The state store cannot be opened or written."""


class FencedError(StoreError):
    """A leader-only write was refused because this node is no longer the leader (the
    cluster's epoch moved on: another node was elected). Nothing is lost: the new leader
    evaluates from the stored state and carries on; this node must not retry the write."""

    def __init__(self, where: str, mine: int | None, current: int | None) -> None:
        self.mine = mine
        self.current = current
        super().__init__(
            f"this node is no longer the leader of the state store {where} (its epoch "
            f"{mine if mine is not None else 'none'}, the cluster's {current}): its write was "
            "refused and the new leader carries on from the stored state. Nothing is lost."
        )


class ProbeSetupError(MonitordError):
    """A probe cannot run at all because its spec is unusable (not a site failure)."""


class NotifierError(MonitordError):
    """A notification could not be delivered."""


class RetryableError(NotifierError):
    """Delivery failed for a passing reason (timeout, 429, 5xx); the outbox tries again.

    ``retry_after`` is the server's requested wait in seconds, when it gave one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(NotifierError):
    """Delivery failed for a reason retrying cannot fix (4xx, bad credentials, bad address)."""


class VersionError(MonitordError, ValueError):
    """A version string or a Composer constraint cannot be parsed."""
