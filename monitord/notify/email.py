"""The e-mail notifier: one message per notification, sent with aiosmtplib.

Composing is pure (:meth:`EmailNotifier.build_message` takes ``now``); sending is thin
(:meth:`EmailNotifier.send`: one SMTP connection per message, failures classified into
:class:`~monitord.errors.RetryableError` or :class:`~monitord.errors.PermanentError`).

Headers and why:

- ``Message-ID: <{sha256(notification.key)[:32]}@{domain of smtp.from}>`` — deterministic, so
  a resend after a crash between send and record carries the same id and mail systems
  (and people) can see it is the same message. This is the notifier's idempotency.
- ``References`` and ``In-Reply-To: <thread-{sha256(event.thread)[:32]}@{domain}>`` on every
  message of a thread. The thread root is a virtual message that is never sent: no message
  has to know whether it was the first, a lost first message breaks nothing, and mail apps
  (Gmail, Thunderbird, Apple Mail) group siblings that reference one root. With the stable
  subject from :mod:`monitord.notify.render` Outlook's conversations group them too.
- ``From``: smtp.from's address always; its display name followed by the message's state for
  incident kinds (``Collective monitoring — DOWN`` / ``— BACK UP``), so a message list tells
  the messages of one thread apart while the subject stays the same (Gmail threads only
  messages whose subjects match). ``Thread-Topic`` is the subject (Outlook's conversations).
- ``Auto-Submitted: auto-generated`` (RFC 3834) and ``X-Auto-Response-Suppress: All``
  (Exchange): no out-of-office replies to the monitor. No ``Precedence: bulk``: it is not a
  standard, and some providers file such mail as bulk, where an outage notice must not go.
- ``X-Monitord-Kind``, ``X-Monitord-Client``, ``X-Monitord-Site``: for recipients' filters.
- ``Date`` is the time of composing (``now``), not of the event; the event's time is in the body.

Security ``none`` never upgrades to TLS; ``starttls`` requires it; ``tls`` is TLS from the
first byte. The server certificate is verified unless ``smtp.verify`` is false, against
``smtp.ca_file`` when given, else the system's CAs; an ``ssl_context`` passed in wins over both.
The password is used for AUTH only and never appears in an error or a log line.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import ClassVar
from zoneinfo import ZoneInfo

import aiosmtplib
import structlog

from monitord.clock import Clock, utcnow
from monitord.config.models import Agency, SmtpConfig
from monitord.errors import NotifierError, PermanentError, RetryableError
from monitord.notify.base import NOTIFIER_API_VERSION, Notification
from monitord.notify.http import find_cause
from monitord.notify.render import one_line, render
from monitord.redact import scrub, smtp_auth_forms

log = structlog.get_logger("monitord.notify.email")

SEND_DEADLINE_MULTIPLIER = 3
"""A send is about ten SMTP round trips, each bounded by ``smtp.timeout``. A server that
answers every one just before its timeout (a tarpit) must still not hold the sender for ten
timeouts: the whole send gets this many ``smtp.timeout``s, then it is retried later."""

FALLBACK_DOMAIN = "monitord.invalid"
"""Right-hand side of Message-IDs when ``smtp.from`` has no domain (RFC 2606 reserved name)."""

_DOMAIN_CHARS = re.compile(r"[^A-Za-z0-9.-]")


def _hash32(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def message_id_for(key: str, domain: str) -> str:
    """The Message-ID of the notification with this key (the same on every resend)."""
    return f"<{_hash32(key)}@{domain}>"


def thread_id_for(thread: str, domain: str) -> str:
    """The virtual root every message of a thread refers to."""
    return f"<thread-{_hash32(thread)}@{domain}>"


def _parse_from(value: str) -> tuple[str, str, str]:
    """(display name, address, domain) of ``smtp.from``; raises NotifierError if unusable."""
    name, addr = parseaddr(value)
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise NotifierError(
            f"smtp.from {value!r} has no e-mail address — write it as "
            '"Collective monitoring <monitor@collective.example>"'
        )
    clean = _DOMAIN_CHARS.sub("", domain).strip(".").lower()
    return one_line(name), addr, clean or FALLBACK_DOMAIN


def _address(name: str, addr: str) -> Address:
    return Address(display_name=one_line(name), addr_spec=addr.strip())


class EmailNotifier:
    """Sends notifications as multipart (text + HTML) e-mail through one SMTP server."""

    api_version: ClassVar[int] = NOTIFIER_API_VERSION
    mergeable: ClassVar[bool] = True
    """Several notifications for one person may go out as one digest (monitord.storm)."""

    def __init__(
        self,
        name: str,
        smtp: SmtpConfig,
        agency: Agency,
        ssl_context: ssl.SSLContext | None = None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.name = name
        self._smtp = smtp
        self._agency = agency
        self._tz = ZoneInfo(agency.timezone)
        self._given_ssl_context = ssl_context
        self._ssl_context: ssl.SSLContext | None = None
        self._clock = clock
        self._from_name, self._from_addr, self._domain = _parse_from(smtp.from_)
        self._local_hostname: str | None = None

    # ------------------------------------------------------------------ pure

    def sender_name(self, state: str) -> str:
        """The From display name: smtp.from's name, with the message's state after it
        (``Collective monitoring — DOWN``) so an inbox list tells a DOWN from a BACK UP of
        the same thread; the address, which filters match, never changes."""
        name = self._from_name or f"{self._agency.name} monitoring"
        return f"{name} — {state}" if state else self._from_name

    def build_message(self, notification: Notification, now: datetime) -> EmailMessage:
        """The message for one notification, composed at ``now`` (pure)."""
        event = notification.event
        if not notification.recipient.strip():
            raise PermanentError(
                f"notification {notification.key!r} has no recipient address — the e-mail "
                "notifier needs a contact's address; check the route that produced it"
            )
        try:
            to = _address(notification.recipient_name, notification.recipient)
        except (HeaderParseError, ValueError, IndexError) as exc:
            raise PermanentError(
                f"recipient {notification.recipient!r} is not a usable e-mail address ({exc}) — "
                "fix the contact's address in the client's configuration"
            ) from None
        rendered = render(event, self._agency.name, self._tz, notification.recipient_name)
        msg = EmailMessage()
        msg["From"] = _address(self.sender_name(rendered.state), self._from_addr)
        msg["To"] = to
        msg["Subject"] = rendered.subject
        # Outlook's conversations follow Thread-Topic where it is given.
        msg["Thread-Topic"] = rendered.subject
        msg["Date"] = format_datetime(now if now.tzinfo else now.replace(tzinfo=UTC))
        msg["Message-ID"] = message_id_for(notification.key, self._domain)
        root = thread_id_for(event.thread, self._domain)
        msg["In-Reply-To"] = root
        msg["References"] = root
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["X-Monitord-Kind"] = event.kind
        if event.client:
            msg["X-Monitord-Client"] = one_line(event.client)
        if event.site:
            msg["X-Monitord-Site"] = one_line(event.site)
        # quoted-printable: 7-bit clean through any relay, readable in raw form.
        msg.set_content(rendered.text, charset="utf-8", cte="quoted-printable")
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
        return msg

    # ------------------------------------------------------------------ I/O

    def _build_tls_context(self) -> ssl.SSLContext:
        smtp = self._smtp
        if not smtp.verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        try:
            return ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise PermanentError(
                f"cannot load smtp.ca_file {str(smtp.ca_file)!r} ({exc}) — point it at a PEM "
                "file with the CA certificate that signed the SMTP server's certificate"
            ) from None

    async def _tls_context(self) -> ssl.SSLContext | None:
        if self._smtp.security == "none":
            return None
        if self._given_ssl_context is not None:
            return self._given_ssl_context
        if self._ssl_context is None:
            self._ssl_context = await asyncio.to_thread(self._build_tls_context)
        return self._ssl_context

    async def _helo_name(self) -> str:
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn) or "localhost"
        return self._local_hostname

    async def send(self, notification: Notification) -> str:
        """Send one message; returns its Message-ID. Raises Retryable/PermanentError."""
        msg = self.build_message(notification, self._clock())
        event = notification.event
        return await self.deliver(
            msg, notification.recipient, kind=event.kind, client=event.client, site=event.site
        )

    def build_report_message(
        self,
        recipient: str,
        recipient_name: str,
        subject: str,
        text: str,
        html: str,
        images: Mapping[str, bytes],
        *,
        key: str,
        client: str,
        now: datetime,
    ) -> EmailMessage:
        """A report e-mail (pure): text and HTML parts, the HTML's PNG images inline. The
        HTML refers to each image as ``cid:<name>@<domain>`` (:meth:`image_cid`)."""
        try:
            to = _address(recipient_name, recipient)
        except (HeaderParseError, ValueError, IndexError) as exc:
            raise PermanentError(
                f"recipient {recipient!r} is not a usable e-mail address ({exc}) — fix the "
                "contact's address in the client's configuration"
            ) from None
        msg = EmailMessage()
        msg["From"] = _address(
            self._from_name or f"{self._agency.name} monitoring", self._from_addr
        )
        msg["To"] = to
        msg["Subject"] = one_line(subject)
        msg["Date"] = format_datetime(now if now.tzinfo else now.replace(tzinfo=UTC))
        msg["Message-ID"] = message_id_for(key, self._domain)
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["X-Monitord-Kind"] = "report"
        msg["X-Monitord-Client"] = one_line(client)
        msg.set_content(text, charset="utf-8", cte="quoted-printable")
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        html_part = msg.get_body(("html",))
        assert html_part is not None  # just added
        for name, png in images.items():
            html_part.add_related(
                png, "image", "png", cid=f"<{self.image_cid(name)}>", filename=f"{name}.png"
            )
        return msg

    def image_cid(self, name: str) -> str:
        """The Content-ID (without brackets) of a report's inline image."""
        return f"{name}@{self._domain}"

    async def deliver(
        self,
        msg: EmailMessage,
        recipient: str,
        *,
        kind: str,
        client: str | None = None,
        site: str | None = None,
    ) -> str:
        """Send a composed message to ``recipient``; returns its Message-ID. Raises
        Retryable/PermanentError."""
        smtp = self._smtp
        message_id = str(msg["Message-ID"])
        password = smtp.password.get_secret_value() if smtp.password is not None else None
        if smtp.username and not password:
            raise PermanentError(
                f"smtp.username is {smtp.username!r} but smtp.password is empty — set the "
                "password credential (SMTP_PASSWORD in the bundled config) or remove "
                "smtp.username"
            )
        tls_context = await self._tls_context()
        timeout = smtp.timeout.total_seconds()
        try:
            async with asyncio.timeout(timeout * SEND_DEADLINE_MULTIPLIER):
                await aiosmtplib.send(
                    msg,
                    sender=self._from_addr,
                    recipients=[recipient.strip()],
                    hostname=smtp.host,
                    port=smtp.port,
                    use_tls=smtp.security == "tls",
                    start_tls=smtp.security == "starttls",
                    tls_context=tls_context,
                    username=smtp.username if smtp.username else None,
                    password=password if smtp.username else None,
                    timeout=timeout,
                    local_hostname=await self._helo_name(),
                )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = classify_smtp_error(
                exc,
                host=smtp.host,
                port=smtp.port,
                username=smtp.username,
                recipient=recipient,
                sender=self._from_addr,
                timeout=timeout,
                password=password,
            )
            # Debug only: the caller logs the attempt once, with the error (the outbox's
            # outbox.retry / outbox.failed; `notify test` prints it), so an outage is one
            # line per attempt, not two long ones.
            log.debug(
                "email.failed",
                notifier=self.name,
                message_id=message_id,
                kind=kind,
                retryable=isinstance(error, RetryableError),
            )
            raise error from None
        log.info(
            "email.sent",
            notifier=self.name,
            message_id=message_id,
            recipient=recipient,
            kind=kind,
            client=client,
            site=site,
        )
        return message_id

    async def aclose(self) -> None:
        """Nothing to release: every send uses its own connection."""


# ---------------------------------------------------------------- failure classification


def _reply(code: int, message: str) -> str:
    return f"{code} {one_line(message)}".strip()


def classify_smtp_error(
    exc: BaseException,
    *,
    host: str,
    port: int,
    username: str | None,
    recipient: str,
    sender: str,
    timeout: float,
    password: str | None,
) -> RetryableError | PermanentError:
    """Turn what aiosmtplib or the socket raised into an error that says what to do (pure).

    Retryable: connection refused/reset/lost, timeouts, any 4xx reply. Permanent: 5xx on the
    recipient, sender or data, refused login (535 and other 5xx), certificate verification
    and other TLS failures, a server lacking STARTTLS or AUTH. The password is scrubbed from
    every message even if a server echoed it, in every form (as is, escaped, base64 as AUTH
    LOGIN sends it, and the AUTH PLAIN blob with the user name).
    """
    server = f"SMTP server {host}:{port}"
    result = _classify_reply(exc, server, username, recipient, sender)
    if result is None:
        result = _classify_transport(exc, server, timeout)
    if password:
        forms = smtp_auth_forms(username or "", password)
        message = scrub(str(result), forms)
        if message != str(result):
            result = type(result)(message)
    return result


def _classify_reply(
    exc: BaseException, server: str, username: str | None, recipient: str, sender: str
) -> RetryableError | PermanentError | None:
    """An SMTP reply the server sent (auth, recipient, sender, data, any other): retryable
    on 4xx, permanent on 5xx, with what to check; None when ``exc`` is not a reply."""
    result: RetryableError | PermanentError | None = None

    def retry_or_fail(code: int, text: str) -> RetryableError | PermanentError:
        return RetryableError(text) if 400 <= code < 500 else PermanentError(text)

    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        if 400 <= exc.code < 500:
            result = RetryableError(
                f"{server} could not log in user {username!r} for now "
                f"({_reply(exc.code, exc.message)}) — will retry"
            )
        else:
            result = PermanentError(
                f"{server} refused login for user {username!r} ({_reply(exc.code, exc.message)})"
                " — check smtp.username and the password credential (SMTP_PASSWORD in the "
                "bundled config)"
            )
    elif isinstance(exc, aiosmtplib.SMTPRecipientsRefused | aiosmtplib.SMTPRecipientRefused):
        refused = (
            exc.recipients if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) else [exc]
        ) or [aiosmtplib.SMTPRecipientRefused(550, "refused", recipient)]
        first = refused[0]
        reply = _reply(first.code, first.message)
        if all(400 <= r.code < 500 for r in refused):
            result = RetryableError(
                f"{server} deferred recipient {first.recipient} ({reply}) — will retry"
            )
        else:
            result = PermanentError(
                f"{server} refused recipient {first.recipient} ({reply}) — check the contact's "
                "e-mail address in the client's configuration"
            )
    elif isinstance(exc, aiosmtplib.SMTPSenderRefused):
        result = retry_or_fail(
            exc.code,
            f"{server} refused sender {sender} ({_reply(exc.code, exc.message)})"
            + (
                " — will retry"
                if exc.code < 500
                else " — check smtp.from is an address this server lets you send as"
            ),
        )
    elif isinstance(exc, aiosmtplib.SMTPDataError):
        result = retry_or_fail(
            exc.code,
            f"{server} refused the message ({_reply(exc.code, exc.message)})"
            + (" — will retry" if exc.code < 500 else " — see the server's logs for its policy"),
        )
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        result = retry_or_fail(
            exc.code,
            f"{server} answered {_reply(exc.code, exc.message)}"
            + (" — will retry" if exc.code < 500 else " — check the SMTP settings with its admin"),
        )
    return result


def _classify_transport(
    exc: BaseException, server: str, timeout: float
) -> RetryableError | PermanentError:
    """Anything else: TLS, a timeout, the connection; a protocol refusal as the last case."""
    result: RetryableError | PermanentError
    if (cert := find_cause(exc, ssl.SSLCertVerificationError)) is not None:
        reason = getattr(cert, "verify_message", None) or str(cert)
        result = PermanentError(
            f"could not verify the TLS certificate of {server} ({one_line(reason)}) — fix the "
            "server's certificate, set smtp.ca_file to the CA that signed it, or (test servers "
            "only) set smtp.verify: false"
        )
    elif (tls := find_cause(exc, ssl.SSLError)) is not None:
        reason = getattr(tls, "reason", None) or str(tls)
        result = PermanentError(
            f"TLS with {server} failed ({one_line(reason)}) — check smtp.security matches the "
            "port: tls for 465, starttls for 587, none for a plain local relay"
        )
    elif isinstance(exc, TimeoutError):
        result = RetryableError(
            f"{server} did not answer within {timeout:g}s — will retry; if it persists check "
            "smtp.host, smtp.port and smtp.security (starttls against a tls port waits forever)"
        )
    elif isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError | OSError):
        result = RetryableError(
            f"could not deliver through {server} ({one_line(exc)}) — will retry; check the "
            "server is running and smtp.host and smtp.port are right"
        )
    else:
        text = one_line(exc)
        if "AUTH" in text.upper():
            hint = (
                "use smtp.security starttls or tls (servers offer login only over TLS), "
                "or remove smtp.username"
            )
        elif "STARTTLS" in text.upper():
            hint = "set smtp.security to tls (usually port 465) or none"
        else:
            hint = "check the SMTP settings"
        result = PermanentError(f"{server}: {text} — {hint}")
    return result
