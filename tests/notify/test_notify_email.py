"""The e-mail notifier: pure message building, and sending to a real aiosmtpd on 127.0.0.1
(plain, STARTTLS + AUTH, implicit TLS) with every failure classified and no secret leaked."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import re
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
import pytest
from pydantic import ValidationError

from monitord.config.models import Agency, SmtpConfig
from monitord.errors import NotifierError, PermanentError, RetryableError
from monitord.events import Event, EventKind
from monitord.notify.base import NOTIFIER_API_VERSION, Notification, Notifier
from monitord.notify.email import EmailNotifier, classify_smtp_error
from monitord.notify.render import render
from tests.helpers.secrets import CapturedLogs, assert_no_secret, exception_text
from tests.helpers.smtp import SmtpServer, SmtpServerFactory, closed_port
from tests.helpers.tls import TestCA

AGENCY = Agency(name="Collective", timezone="Europe/London")
AGENCY_TZ = ZoneInfo("Europe/London")
PASSWORD = "Tr0ub4dor-&-3-horse-staple"
NOW = datetime(2026, 11, 26, 14, 5, 30, tzinfo=UTC)
THREAD = "acme/acme-www/http@2026-11-26T14:03:00Z"


def sha32(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def event(kind: EventKind = "site-down", thread: str = THREAD, **details: Any) -> Event:
    base: dict[str, Any] = {
        "check_type": "http",
        "url": "https://www.acme.example/",
        "client_name": "ACME Charity",
        "site_name": "ACME main site",
        "message": "HTTP 503",
        "started": "2026-11-26T14:03:00Z",
        "failures": 3,
    }
    base.update(details)
    return Event(
        kind=kind,
        client="acme",
        site="acme-www",
        check="http",
        at=NOW,
        key=f"{thread}/{kind}",
        thread=thread,
        summary=f"acme-www {kind}",
        details=base,
    )


def note(
    ev: Event | None = None,
    recipient: str = "jo@acme.example",
    name: str = "Jo Bloggs",
    key: str | None = None,
) -> Notification:
    ev = ev or event()
    return Notification(
        key=key or f"{ev.key}/email/{recipient}",
        notifier="email",
        recipient=recipient,
        recipient_name=name,
        event=ev,
    )


def config(**overrides: Any) -> SmtpConfig:
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 2525,
        "from": "Collective monitoring <monitor@collective.example>",
    }
    fields.update(overrides)
    return SmtpConfig.model_validate(fields)


def notifier(smtp: SmtpConfig, ssl_context: ssl.SSLContext | None = None) -> EmailNotifier:
    return EmailNotifier("email", smtp, AGENCY, ssl_context, clock=lambda: NOW)


# ---------------------------------------------------------------- the contract


def test_it_is_a_notifier_and_loads_from_its_entry_point() -> None:
    n = notifier(config())
    assert isinstance(n, Notifier)
    assert EmailNotifier.api_version == NOTIFIER_API_VERSION
    (ep,) = importlib.metadata.entry_points(group="monitord.notifiers", name="email")
    assert ep.load() is EmailNotifier


# ---------------------------------------------------------------- build_message (pure)


def test_message_headers() -> None:
    n = notifier(config())
    notification = note()
    msg = n.build_message(notification, NOW)
    rendered = render(notification.event, "Collective", AGENCY_TZ, "Jo Bloggs")
    root = f"<thread-{sha32(THREAD)}@collective.example>"
    expected = {
        "From": "Collective monitoring — DOWN <monitor@collective.example>",
        "To": "Jo Bloggs <jo@acme.example>",
        "Subject": rendered.subject,
        "Thread-Topic": rendered.subject,
        "Date": format_datetime(NOW),
        "Message-ID": f"<{sha32(notification.key)}@collective.example>",
        "In-Reply-To": root,
        "References": root,
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
        "X-Monitord-Kind": "site-down",
        "X-Monitord-Client": "acme",
        "X-Monitord-Site": "acme-www",
    }
    assert {k: str(msg[k]) for k in expected} == expected
    assert msg["Precedence"] is None
    assert parsedate_to_datetime(str(msg["Date"])) == NOW


def test_message_is_multipart_alternative_text_first() -> None:
    notification = note()
    msg = notifier(config()).build_message(notification, NOW)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    rendered = render(notification.event, "Collective", AGENCY_TZ, "Jo Bloggs")
    assert isinstance(parts[0], EmailMessage) and isinstance(parts[1], EmailMessage)
    assert parts[0].get_content() == rendered.text
    assert parts[1].get_content() == rendered.html
    assert all(p.get_content_charset() == "utf-8" for p in parts)


def test_message_id_depends_on_the_key_only() -> None:
    n = notifier(config())
    a = n.build_message(note(key="k1"), NOW)
    again = n.build_message(note(key="k1"), datetime(2027, 1, 1, tzinfo=UTC))
    other = n.build_message(note(key="k2"), NOW)
    assert a["Message-ID"] == again["Message-ID"]
    assert a["Message-ID"] != other["Message-ID"]
    assert a["Date"] != again["Date"]  # Date is when it was composed


def test_references_are_shared_by_a_thread_and_only_by_it() -> None:
    n = notifier(config())
    thread = [
        event("site-down"),
        event("site-reminder", down_for_seconds=14400),
        event("site-recovered", down_for_seconds=7500, ended="2026-11-26T16:08:00Z"),
    ]
    msgs = [n.build_message(note(e), NOW) for e in thread]
    assert len({str(m["References"]) for m in msgs}) == 1
    assert len({str(m["In-Reply-To"]) for m in msgs}) == 1
    assert len({str(m["Subject"]) for m in msgs}) == 1
    assert len({str(m["Message-ID"]) for m in msgs}) == 3
    assert str(msgs[0]["References"]) not in {str(m["Message-ID"]) for m in msgs}
    elsewhere = n.build_message(note(event(thread="acme/acme-www/http@other")), NOW)
    assert elsewhere["References"] != msgs[0]["References"]


@pytest.mark.parametrize(
    ("from_", "domain"),
    [
        ("Collective monitoring <monitor@collective.example>", "collective.example"),
        ("monitor@Mail.Collective.Example", "mail.collective.example"),
        ('"Ops, Collective" <ops@ops.example>', "ops.example"),
    ],
)
def test_message_id_domain_comes_from_smtp_from(from_: str, domain: str) -> None:
    msg = notifier(config(**{"from": from_})).build_message(note(key="k"), NOW)
    assert str(msg["Message-ID"]) == f"<{sha32('k')}@{domain}>"


@pytest.mark.parametrize("from_", ["Collective monitoring", "", "<@>", "monitor@"])
def test_unusable_from_address_is_refused_at_start(from_: str) -> None:
    # check-config refuses it …
    with pytest.raises(ValidationError, match="has no e-mail address"):
        config(**{"from": from_})
    # … and so does the notifier, should a configuration reach it unvalidated.
    unvalidated = config().model_copy(update={"from_": from_})
    with pytest.raises(NotifierError, match=r"smtp\.from .* write it as"):
        notifier(unvalidated)


@pytest.mark.parametrize("recipient", ["", "   ", "not an address", "a@b@c"])
def test_unusable_recipient_is_a_permanent_error(recipient: str) -> None:
    with pytest.raises(PermanentError, match="address"):
        notifier(config()).build_message(note(recipient=recipient), NOW)


def test_names_cannot_inject_headers() -> None:
    n = notifier(config())
    ev = event(client_name="ACME\r\nBcc: evil@example.org")
    msg = n.build_message(note(ev, name="Jo\r\nBcc: evil@example.org"), NOW)
    assert msg["Bcc"] is None
    raw = msg.as_bytes()
    assert b"\nBcc:" not in raw and b"\rBcc:" not in raw


def test_non_ascii_names_are_encoded() -> None:
    msg = notifier(config()).build_message(note(name="Zoë Ångström"), NOW)
    raw = msg.as_bytes()
    raw.decode("ascii")  # every header encoded, every body part transfer-encoded
    assert str(msg["To"]) == "Zoë Ångström <jo@acme.example>"


# ---------------------------------------------------------------- failure classification (pure)

R = RetryableError
P = PermanentError
RCPT = "jo@acme.example"


def _connect_error_with_cause(cause: BaseException) -> aiosmtplib.SMTPConnectError:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise aiosmtplib.SMTPConnectError("Error connecting") from inner
    except aiosmtplib.SMTPConnectError as outer:
        return outer


CLASSIFY: list[tuple[str, BaseException, type[Exception], str]] = [
    ("refused", aiosmtplib.SMTPConnectError("Error connecting: [Errno 111]"), R, "will retry"),
    ("reset", ConnectionResetError(104, "Connection reset by peer"), R, "will retry"),
    ("disconnected", aiosmtplib.SMTPServerDisconnected("Connection lost"), R, "will retry"),
    ("connect timeout", aiosmtplib.SMTPConnectTimeoutError("Timed out"), R, "did not answer"),
    ("read timeout", aiosmtplib.SMTPReadTimeoutError("Timed out"), R, "did not answer"),
    ("deadline", TimeoutError(), R, "did not answer"),
    ("421 banner", aiosmtplib.SMTPConnectResponseError(421, "busy"), R, "421 busy"),
    ("554 banner", aiosmtplib.SMTPConnectResponseError(554, "no service"), P, "554"),
    ("auth 535", aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad"), P, "refused login"),
    ("auth 454", aiosmtplib.SMTPAuthenticationError(454, "4.7.0 later"), R, "will retry"),
    ("rcpt 550", aiosmtplib.SMTPRecipientRefused(550, "no such user", RCPT), P, "recipient"),
    ("rcpt 451", aiosmtplib.SMTPRecipientRefused(451, "greylisted", RCPT), R, "deferred"),
    (
        "rcpts mixed",
        aiosmtplib.SMTPRecipientsRefused(
            [aiosmtplib.SMTPRecipientRefused(550, "no such user", RCPT)]
        ),
        P,
        "contact's e-mail address",
    ),
    ("sender 553", aiosmtplib.SMTPSenderRefused(553, "not yours", "m@x"), P, "smtp.from"),
    ("sender 451", aiosmtplib.SMTPSenderRefused(451, "later", "m@x"), R, "will retry"),
    ("data 554", aiosmtplib.SMTPDataError(554, "spam"), P, "refused the message"),
    ("data 451", aiosmtplib.SMTPDataError(451, "try later"), R, "will retry"),
    ("helo 501", aiosmtplib.SMTPHeloError(501, "bad helo"), P, "501"),
    (
        "cert",
        _connect_error_with_cause(ssl.SSLCertVerificationError(1, "certificate verify failed")),
        P,
        "smtp.ca_file",
    ),
    ("tls other", ssl.SSLError(1, "wrong version number"), P, "smtp.security"),
    (
        "no starttls",
        aiosmtplib.SMTPException("SMTP STARTTLS extension not supported by server."),
        P,
        "set smtp.security to tls",
    ),
    (
        "no auth",
        aiosmtplib.SMTPException("The SMTP AUTH extension is not supported. Try STARTTLS"),
        P,
        "remove smtp.username",
    ),
]


@pytest.mark.parametrize(
    ("exc", "kind", "says"), [c[1:] for c in CLASSIFY], ids=[c[0] for c in CLASSIFY]
)
def test_classify(exc: BaseException, kind: type[Exception], says: str) -> None:
    err = classify_smtp_error(
        exc,
        host="mail.example",
        port=587,
        username="monitor",
        recipient=RCPT,
        sender="monitor@collective.example",
        timeout=30,
        password=PASSWORD,
    )
    assert type(err) is kind
    assert says in str(err)
    assert " — " in str(err)  # every message says what to do next


def test_classify_scrubs_a_password_a_server_echoed() -> None:
    exc = aiosmtplib.SMTPAuthenticationError(535, f"bad password {PASSWORD}")
    err = classify_smtp_error(
        exc,
        host="h",
        port=25,
        username="monitor",
        recipient=RCPT,
        sender="m@x",
        timeout=30,
        password=PASSWORD,
    )
    assert isinstance(err, PermanentError)
    assert_no_secret(PASSWORD, str(err))


# ---------------------------------------------------------------- sending to a real server


async def test_plain_send(smtp_server: SmtpServer, captured_logs: CapturedLogs) -> None:
    n = notifier(smtp_server.smtp_config())
    notification = note()
    message_id = await n.send(notification)
    (mail,) = await smtp_server.wait_for_async(1)
    assert mail.mail_from == "monitor@collective.example"
    assert mail.rcpt_tos == ("jo@acme.example",)
    assert not mail.tls and mail.auth_user is None
    msg = mail.message
    assert str(msg["Message-ID"]) == message_id == f"<{sha32(notification.key)}@collective.example>"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = (p.get_content().replace("\r\n", "\n") for p in msg.iter_parts())
    assert text.startswith("DOWN — HTTP 503\n")
    assert "<!DOCTYPE html>" in html
    assert str(msg["Auto-Submitted"]) == "auto-generated"
    assert str(msg["To"]) == "Jo Bloggs <jo@acme.example>"
    assert "email.sent" in captured_logs.events


async def test_resend_carries_the_same_message_id_and_threads_share_references(
    smtp_server: SmtpServer,
) -> None:
    n = notifier(smtp_server.smtp_config())
    down = note(event("site-down"))
    recovered = note(event("site-recovered", down_for_seconds=600, ended="2026-11-26T14:13:00Z"))
    first = await n.send(down)
    again = await n.send(down)  # the outbox crashed before recording the first send
    other = await n.send(recovered)
    mails = [m.message for m in await smtp_server.wait_for_async(3)]
    assert first == again != other
    assert [str(m["Message-ID"]) for m in mails] == [first, again, other]
    assert len({str(m["References"]) for m in mails}) == 1
    assert len({str(m["Subject"]) for m in mails}) == 1


async def test_starttls_with_auth_and_verification(
    smtp_server_factory: SmtpServerFactory, captured_logs: CapturedLogs
) -> None:
    server = smtp_server_factory(security="starttls", username="monitor", password=PASSWORD)
    smtp = server.smtp_config()
    assert smtp.verify and smtp.ca_file is not None  # verified against the test CA file
    await notifier(smtp).send(note())
    (mail,) = await server.wait_for_async(1)
    assert mail.tls and mail.auth_user == "monitor"
    assert_no_secret(PASSWORD, captured_logs.text, username="monitor")


async def test_implicit_tls_with_auth_and_a_given_ssl_context(
    smtp_server_factory: SmtpServerFactory, client_ssl_context: ssl.SSLContext
) -> None:
    server = smtp_server_factory(security="tls", username="monitor", password=PASSWORD)
    smtp = server.smtp_config(ca_file=None)  # trust comes from the context passed in
    await notifier(smtp, client_ssl_context).send(note())
    (mail,) = await server.wait_for_async(1)
    assert mail.tls and mail.auth_user == "monitor"


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_untrusted_certificate_is_permanent(
    smtp_server_factory: SmtpServerFactory, security: str
) -> None:
    stranger = TestCA()  # a CA the client does not trust
    server = smtp_server_factory(
        security=security, ssl_context=stranger.server_context("127.0.0.1")
    )
    with pytest.raises(
        PermanentError, match=r"could not verify the TLS certificate.*smtp\.ca_file"
    ):
        await notifier(server.smtp_config()).send(note())
    assert server.messages == []


async def test_verify_off_accepts_any_certificate(smtp_server_factory: SmtpServerFactory) -> None:
    stranger = TestCA()
    server = smtp_server_factory(
        security="starttls", ssl_context=stranger.server_context("127.0.0.1")
    )
    await notifier(server.smtp_config(verify=False, ca_file=None)).send(note())
    assert len(await server.wait_for_async(1)) == 1


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_bad_password_is_permanent_and_leaks_nowhere(
    smtp_server_factory: SmtpServerFactory, captured_logs: CapturedLogs, security: str
) -> None:
    server = smtp_server_factory(
        security=security, username="monitor", password="the-real-one-" + "z" * 8
    )
    smtp = server.smtp_config(password=PASSWORD)  # the daemon holds a wrong one
    with pytest.raises(PermanentError) as err:
        await notifier(smtp).send(note())
    assert "refused login for user 'monitor'" in str(err.value)
    assert "smtp.username" in str(err.value) and "SMTP_PASSWORD" in str(err.value)
    assert "email.failed" in captured_logs.events
    assert_no_secret(
        PASSWORD, str(err.value), exception_text(err.value), captured_logs.text, username="monitor"
    )
    assert server.messages == []


async def test_username_without_password_is_permanent_before_connecting(
    smtp_server: SmtpServer,
) -> None:
    smtp = smtp_server.smtp_config(username="monitor", password=None)
    with pytest.raises(PermanentError, match=re.escape("smtp.password is empty")):
        await notifier(smtp).send(note())
    assert smtp_server.sessions == 0


@pytest.mark.parametrize(
    ("stage", "reply", "kind", "says"),
    [
        ("data", "451 4.3.0 Temporary local problem", RetryableError, "will retry"),
        ("rcpt", "451 4.7.1 Greylisted, try later", RetryableError, "deferred recipient"),
        ("mail", "421 4.3.2 Shutting down", RetryableError, "will retry"),
        ("rcpt", "550 5.1.1 No such user", PermanentError, "refused recipient jo@acme.example"),
        ("data", "554 5.6.0 Message rejected as spam", PermanentError, "refused the message"),
        ("mail", "553 5.7.1 Sender not allowed", PermanentError, "smtp.from"),
    ],
)
async def test_server_replies_are_classified(
    smtp_server: SmtpServer, stage: Any, reply: str, kind: type[Exception], says: str
) -> None:
    n = notifier(smtp_server.smtp_config())
    smtp_server.fail(stage, reply)
    with pytest.raises(kind) as err:
        await n.send(note())
    assert type(err.value) is kind
    assert says in str(err.value) and reply[:3] in str(err.value)
    assert smtp_server.messages == []
    if kind is RetryableError:  # and the retry gets through, with the same Message-ID
        message_id = await n.send(note())
        (mail,) = await smtp_server.wait_for_async(1)
        assert str(mail.message["Message-ID"]) == message_id


async def test_server_down_is_retryable() -> None:
    smtp = config(port=closed_port())
    with pytest.raises(
        RetryableError, match=re.escape("could not deliver through SMTP server 127.0.0.1")
    ):
        await notifier(smtp).send(note())


async def test_silent_server_times_out_retryably() -> None:
    """A server that accepts and never greets: the send gives up after smtp.timeout."""
    connections: list[asyncio.StreamWriter] = []

    async def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        connections.append(w)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        smtp = config(port=port, timeout="200ms")
        with pytest.raises(RetryableError, match=r"did not answer within 0\.2s"):
            await notifier(smtp).send(note())
        assert len(connections) == 1
    finally:
        for w in connections:
            w.close()
        server.close()
        await server.wait_closed()


async def test_tls_against_a_plain_server_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(PermanentError, match=re.escape("smtp.security")):
        await notifier(smtp_server.smtp_config(security="tls")).send(note())


async def test_starttls_against_a_server_without_it_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(PermanentError, match="STARTTLS"):
        await notifier(smtp_server.smtp_config(security="starttls")).send(note())


async def test_login_against_a_server_without_auth_is_permanent(smtp_server: SmtpServer) -> None:
    smtp = smtp_server.smtp_config(username="monitor", password=PASSWORD)
    with pytest.raises(PermanentError, match=re.escape("remove smtp.username")) as err:
        await notifier(smtp).send(note())
    assert_no_secret(PASSWORD, exception_text(err.value))


async def test_missing_ca_file_is_permanent(
    smtp_server_factory: SmtpServerFactory, tmp_path: Any
) -> None:
    server = smtp_server_factory(security="starttls")
    smtp = server.smtp_config(ca_file=tmp_path / "missing.pem")
    with pytest.raises(PermanentError, match=re.escape("cannot load smtp.ca_file")):
        await notifier(smtp).send(note())


# ---------------------------------------------------------------- a contact gets only its kinds


async def test_each_contact_gets_only_the_kinds_it_lists(smtp_server: SmtpServer) -> None:
    """Routing (monitord.routing) and this notifier together, down to the mail received."""
    from monitord.config.models import ClientConfig, Config, Contact, MainConfig
    from monitord.routing import route

    smtp = smtp_server.smtp_config()
    contacts = (
        Contact(name="Jo Bloggs", email="jo@acme.example", notify=("site-down", "site-recovered")),
        Contact(name="Cert Person", email="certs@acme.example", notify=("certificate",)),
        Contact(name="Ops", email="ops@acme.example", notify=("site-down", "maintenance")),
        Contact(name="Nobody", email="nobody@acme.example", notify=()),
    )
    cfg = Config(
        main=MainConfig(agency=AGENCY, smtp=smtp),
        clients=(ClientConfig(client="acme", name="ACME Charity", contacts=contacts),),
    )
    n = notifier(smtp)
    expected: dict[EventKind, list[str]] = {
        "site-down": ["jo@acme.example", "ops@acme.example"],
        "site-reminder": ["jo@acme.example", "ops@acme.example"],
        "site-recovered": ["jo@acme.example"],
        "certificate": ["certs@acme.example"],
        "patch-day": ["ops@acme.example"],
    }
    sent: list[tuple[str, str]] = []
    ticketed: list[str] = []
    for kind, addresses in expected.items():
        for notification in route(event(kind), cfg):
            # This test is about the e-mail notifier: the default routes also open a ticket
            # for every problem through the built-in `tickets` notifier (no address), which
            # is not this notifier's to send; it is counted, not mailed.
            if notification.notifier == "tickets":
                assert notification.recipient == ""
                ticketed.append(kind)
                continue
            assert notification.notifier == "email"
            await n.send(notification)
            sent.append((kind, notification.recipient))
        assert sorted(a for k, a in sent if k == kind) == sorted(addresses)
    assert ticketed == list(expected)
    mails = await smtp_server.wait_for_async(len(sent))
    received = sorted((str(m.message["X-Monitord-Kind"]), m.rcpt_tos[0]) for m in mails)
    assert received == sorted((k, a) for k, addrs in expected.items() for a in addrs)
