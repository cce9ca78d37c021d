"""helpdesk-email against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import structlog

from monitord.errors import PermanentError
from monitord.notify.base import is_mergeable
from monitord.notify.helpdesk_email import HelpdeskEmailNotifier
from monitord.notify.plugins import NotifierContext
from monitord.tickets import thread_label
from tests.helpers.smtp import SmtpServer
from tests.notify.standins.kit import AGENCY, NOW, THREAD, note

OPTIONS = HelpdeskEmailNotifier.Options(address="support@acme.zendesk.example", name="ACME desk")


def ctx(smtp: SmtpServer | None) -> NotifierContext:
    return NotifierContext(
        agency=AGENCY,
        smtp=smtp.smtp_config() if smtp is not None else None,
        ssl_context=None,
        clock=lambda: NOW,
        log=structlog.get_logger("test"),
        config_dir=Path("."),
    )


async def test_one_thread_one_subject_token_and_the_same_message_id_on_resend(
    smtp_server: SmtpServer,
) -> None:
    n = HelpdeskEmailNotifier("desk", OPTIONS, ctx(smtp_server))
    down = note("site-down", "desk", recipient="ignored@example.org")
    first = await n.send(down)
    assert await n.send(down) == first  # a re-send carries the same Message-ID
    await n.send(note("site-recovered", "desk"))
    other = note("site-down", "desk", thread="acme/acme-shop/http@2026-11-26T14:04:00Z")
    await n.send(other)
    mails = await smtp_server.wait_for_async(4)
    assert all(m.rcpt_tos == ("support@acme.zendesk.example",) for m in mails)
    msgs = [m.message for m in mails]
    label = thread_label(THREAD)
    assert msgs[0]["Message-ID"] == msgs[1]["Message-ID"] == first
    assert msgs[0]["Subject"] == msgs[2]["Subject"]
    assert msgs[0]["Subject"].startswith(f"[{label}] [ACME Charity] acme-www: site problem")
    assert msgs[0]["X-Monitord-Thread"] == label == msgs[2]["X-Monitord-Thread"]
    assert msgs[0]["X-Monitord-Priority"] == "high"
    assert msgs[2]["X-Monitord-Priority"] == "low"
    assert msgs[0]["In-Reply-To"] == msgs[2]["In-Reply-To"] != msgs[3]["In-Reply-To"]
    assert msgs[3]["X-Monitord-Thread"] != label
    assert "ACME desk" in msgs[0]["To"]


def test_never_merged_into_a_digest_and_needs_smtp(smtp_server: SmtpServer) -> None:
    assert not is_mergeable(HelpdeskEmailNotifier("desk", OPTIONS, ctx(smtp_server)))
    with pytest.raises(PermanentError, match="no smtp section"):
        HelpdeskEmailNotifier("desk", OPTIONS, ctx(None))


def test_build_message_is_pure(smtp_server: SmtpServer) -> None:
    n = HelpdeskEmailNotifier("desk", OPTIONS, ctx(smtp_server))
    a = n.build_message(note("site-down", "desk"), NOW)
    b = n.build_message(replace(note("site-down", "desk")), NOW)
    assert a.items() == b.items()  # every header (the MIME boundary is random)
    body_a, body_b = a.get_body(("plain",)), b.get_body(("plain",))
    assert body_a is not None and body_b is not None
    assert body_a.get_content() == body_b.get_content()


@pytest.mark.parametrize("address", ["", "no-at-sign", "two@@example.org", "sp ace@example.org"])
def test_address_must_be_an_address(address: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        HelpdeskEmailNotifier.Options(address=address)
