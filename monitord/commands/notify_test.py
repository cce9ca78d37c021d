"""``monitord notify test NOTIFIER [--config DIR] [--to ADDRESS]``: one test message, now.

Builds only the named notifier from the configuration and sends it an event of kind ``test``
directly (not through the outbox): prints ``sent: <external id>`` and exits 0, or prints the
classified error (retryable or permanent, with what to fix) and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from monitord.cli import add_config_argument
from monitord.clock import utcnow
from monitord.config.loader import load_config, resolve_config_dir
from monitord.config.models import Config
from monitord.errors import NotifierError, PermanentError, RetryableError
from monitord.events import Event
from monitord.notify.base import Notification
from monitord.notify.plugins import (
    EMAIL,
    NOTIFIER_TYPES,
    build_notifiers,
    configured_types,
)
from monitord.redact import scrub

GROUP = "notify"
GROUP_HELP = "Work with the configured notifiers: send a test message"


def build_test_notification(
    config: Config, name: str, to: str | None, now: datetime
) -> Notification:
    """The test notification for notifier ``name`` at ``now`` (pure)."""
    agency = config.main.agency
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"test/{name}/{stamp}"
    event = Event(
        kind="test",
        client="",
        site=None,
        check=None,
        at=now,
        key=key,
        thread=key,
        summary=(
            f"Test message from monitord ({agency.name}) through notifier {name!r} — "
            "no action needed"
        ),
        severity="info",
        details={"sent_by": "monitord notify test"},
    )
    recipient = to or ""
    if not recipient and configured_types(config).get(name) == EMAIL:
        recipient = agency.support_email or ""
    return Notification(
        key=f"{key}|{name}|{recipient}",
        notifier=name,
        recipient=recipient,
        recipient_name=agency.name if recipient else "",
        event=event,
    )


def _scrubbing(secrets: Sequence[str]) -> structlog.types.Processor:
    def processor(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
        return {k: scrub(v, secrets) if isinstance(v, str) else v for k, v in event.items()}

    return processor


@contextlib.contextmanager
def _quiet_logs(secrets: Sequence[str] = ()) -> Iterator[None]:
    """The command prints the outcome itself: notifier log lines below ERROR are dropped, the
    rest go to stderr with ``secrets`` masked, and the previous logging set-up is restored
    afterwards."""
    old = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            _scrubbing(secrets),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(**old)


async def _send(config: Config, name: str, to: str | None) -> str | None:
    notifiers = build_notifiers(config, only={name})
    notifier = notifiers[name]
    try:
        return await notifier.send(build_test_notification(config, name, to, utcnow()))
    finally:
        await notifier.aclose()


def handler(args: argparse.Namespace) -> int:
    config = load_config(resolve_config_dir(args.config), notifier_types=NOTIFIER_TYPES)
    types = configured_types(config)
    name = args.notifier
    if name not in types:
        known = ", ".join(sorted(types)) or "none (add a notifiers: section, or smtp:)"
        print(f"monitord: no notifier named {name!r}; configured: {known}", file=sys.stderr)
        return 1
    if types[name] == EMAIL and not (args.to or config.main.agency.support_email):
        print(
            "monitord: the e-mail notifier needs an address: pass --to ADDRESS, or set "
            "agency.support_email",
            file=sys.stderr,
        )
        return 1
    try:
        with _quiet_logs(config.secret_values):
            external_id = asyncio.run(_send(config, name, args.to))
    except RetryableError as exc:
        said = scrub(str(exc), config.secret_values)
        print(f"failed, retryable (the outbox would try again): {said}", file=sys.stderr)
        return 1
    except PermanentError as exc:
        print(f"failed, permanent: {scrub(str(exc), config.secret_values)}", file=sys.stderr)
        return 1
    except NotifierError as exc:
        print(f"failed: {scrub(str(exc), config.secret_values)}", file=sys.stderr)
        return 1
    print(f"sent: {external_id if external_id is not None else '(no id returned)'}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "test",
        help="send a test message through one notifier now",
        description=(
            "Send an event of kind `test` through one configured notifier right now, bypassing "
            "the outbox; print `sent: <id>` (exit 0) or the classified error (exit 1)."
        ),
    )
    parser.add_argument("notifier", metavar="NOTIFIER", help="a notifier's name, e.g. email")
    parser.add_argument(
        "--to",
        metavar="ADDRESS",
        default=None,
        help="recipient for notifiers that send to people (default: agency.support_email)",
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
