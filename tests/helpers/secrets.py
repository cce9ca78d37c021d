"""No credential in a log line or an error: the check every notifier's tests share.

Use in a test module or conftest.py::

    from tests.helpers.secrets import assert_no_secret, captured_logs, exception_text  # noqa: F401

    async def test_bad_password_leaks_nothing(captured_logs):
        with pytest.raises(PermanentError) as err:
            await notifier.send(notification)
        assert_no_secret(PASSWORD, captured_logs.text, exception_text(err.value))

``captured_logs`` records, for the length of one test, everything logged through structlog
(rendered with the exception and its traceback) and through stdlib ``logging`` at every
level (message, exception chain and stack). Loggers of the loopback *test servers* are not the
daemon's logs and are left out: ``mail.log`` (aiosmtpd) by default, more with
``captured_logs.ignore("aiohttp.access")``. ``assert_no_secret`` looks for the secret itself
and for the encodings it could leak in (base64 as in SMTP AUTH, URL-quoted, JSON/repr escaped).
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import structlog

MIN_SECRET_LENGTH = 8
"""Shorter test secrets would match by accident in ordinary text and prove nothing: use a
long, distinctive one (e.g. ``"s3cret-Pa55-" + "x" * 8``)."""

DEFAULT_IGNORED_LOGGERS: tuple[str, ...] = ("mail.log",)
"""Loggers of test-side servers (aiosmtpd logs the AUTH exchange it receives)."""


def secret_forms(secret: str, username: str | None = None) -> dict[str, str]:
    """Every form a secret could leak in, by a name for the failure message."""
    raw = secret.encode("utf-8")
    forms = {
        "as is": secret,
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "URL-quoted": quote(secret, safe=""),
        "URL-quoted (+)": quote_plus(secret),
        "JSON-escaped": json.dumps(secret)[1:-1],
        "repr-escaped": repr(secret)[1:-1],
    }
    if username is not None:
        user = username.encode("utf-8")
        forms["SMTP AUTH PLAIN"] = base64.b64encode(b"\0" + user + b"\0" + raw).decode()
        forms["HTTP Basic"] = base64.b64encode(user + b":" + raw).decode()
    return forms


def assert_no_secret(secret: str, *texts: str, username: str | None = None) -> None:
    """Fail if ``secret`` (in any form of :func:`secret_forms`) occurs in any of ``texts``."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"a test secret must be at least {MIN_SECRET_LENGTH} characters to be meaningful"
        )
    if not texts:
        raise ValueError("give assert_no_secret the texts to search (logs, error messages…)")
    for index, text in enumerate(texts):
        for name, form in secret_forms(secret, username).items():
            at = text.find(form)
            if at >= 0:
                start = max(at - 60, 0)
                context = text[start : at + len(form) + 60].replace(form, "<SECRET>")
                raise AssertionError(f"the secret ({name}) appears in text #{index}: …{context}…")


def exception_text(exc: BaseException) -> str:
    """An exception as a log would show it: message, traceback, causes and contexts."""
    return "".join(traceback.format_exception(exc))


@dataclass(frozen=True, slots=True)
class LogEntry:
    source: str
    """``structlog`` or ``logging``."""
    logger: str
    text: str


@dataclass
class CapturedLogs:
    entries: list[LogEntry] = field(default_factory=list)
    ignored: set[str] = field(default_factory=lambda: set(DEFAULT_IGNORED_LOGGERS))

    def ignore(self, *loggers: str) -> None:
        """Leave these loggers (and their children) out of :attr:`text`."""
        self.ignored.update(loggers)

    def _kept(self, entry: LogEntry) -> bool:
        return not any(
            entry.logger == name or entry.logger.startswith(name + ".") for name in self.ignored
        )

    @property
    def text(self) -> str:
        """Everything captured (minus ignored loggers), one entry per line or block."""
        return "\n".join(e.text for e in self.entries if self._kept(e))

    @property
    def events(self) -> list[str]:
        """The structlog event names captured, in order (e.g. ``email.sent``)."""
        return [e.text.split(" ", 1)[0] for e in self.entries if e.source == "structlog"]

    def clear(self) -> None:
        self.entries.clear()


class _Handler(logging.Handler):
    def __init__(self, captured: CapturedLogs) -> None:
        super().__init__(level=logging.DEBUG)
        self.captured = captured
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception as exc:  # a broken log call must still be visible to the test
            text = f"unformattable record {record.msg!r} {record.args!r}: {exc}"
        self.captured.entries.append(LogEntry("logging", record.name, text))


def _structlog_capture(captured: CapturedLogs) -> Any:
    def processor(_logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
        event = str(event_dict.pop("event", ""))
        name = str(event_dict.get("logger", event_dict.get("logger_name", "")))
        rest = " ".join(f"{k}={v}" for k, v in event_dict.items())
        captured.entries.append(LogEntry("structlog", name, f"{event} [{method}] {rest}"))
        raise structlog.DropEvent

    return processor


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """Capture structlog and stdlib logging output for one test (see the module doc)."""
    captured = CapturedLogs()
    old_config = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _structlog_capture(captured),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    handler = _Handler(captured)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        structlog.configure(**old_config)
