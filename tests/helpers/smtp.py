"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), in its own thread and event loop.

It speaks plain SMTP, STARTTLS or implicit TLS (with a certificate from the private test CA in
:mod:`tests.helpers.tls`), can require AUTH with a username and password, answers 4xx/5xx on
demand at MAIL, RCPT or DATA, and collects every message it accepts. Running in its own
thread, it serves async tests, sync tests and a daemon started as a subprocess alike.

Fixtures (import them into a conftest.py)::

    from tests.helpers.smtp import smtp_server, smtp_server_factory, test_ca  # noqa: F401

    def test_x(smtp_server):                       # plain, no AUTH, a free port
        ...
        mail = smtp_server.wait_for(1)[0]          # blocks on a condition, no polling
        assert mail.message["Subject"] == "..."

    def test_y(smtp_server_factory):
        server = smtp_server_factory(security="starttls", username="monitor", password="pw…")
        cfg = server.smtp_config()                 # a monitord SmtpConfig pointing at it
        server.fail("rcpt", "550 5.1.1 No such user")   # the next RCPT gets this reply
        ...

Without fixtures: ``with SmtpServer(...) as server: ...``.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from pydantic import SecretStr

from monitord.config.models import SmtpConfig
from tests.helpers.tls import TestCA
from tests.helpers.tls import test_ca as test_ca  # re-exported: smtp_server_factory needs it

Security = Literal["none", "starttls", "tls"]
Stage = Literal["mail", "rcpt", "data"]

READY_TIMEOUT = 15.0
"""Seconds to wait for the server thread to listen; generous for a loaded 2-core CI box."""

WAIT_TIMEOUT = 15.0
"""Default seconds :meth:`SmtpServer.wait_for` waits for messages before failing the test."""

SERVER_NAME = "smtp.test"
"""The name the server gives in its greeting (no DNS lookup of the machine's name)."""


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool
    """Whether the session was encrypted (STARTTLS or implicit TLS)."""
    auth_user: str | None
    """The user that logged in, or None."""

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


def plain_text(msg: EmailMessage) -> str:
    """The message's text/plain body (every message monitord sends has one)."""
    body = msg.get_body(("plain",))
    assert body is not None, f"no text/plain part in {msg['Subject']!r}"
    return str(body.get_content())


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.username = username.encode()
        self.password = password.encode()

    def __call__(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.username
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=self.username.decode())


class SmtpServer:
    """A loopback SMTP server; see the module doc."""

    def __init__(
        self,
        *,
        security: Security = "none",
        ssl_context: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
        host: str = "127.0.0.1",
        ca_file: Path | None = None,
    ) -> None:
        if security != "none" and ssl_context is None:
            raise ValueError(f"security={security!r} needs a server ssl_context")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.security = security
        self.host = host
        self.port = 0
        self.username = username
        self.password = password
        self.ca_file = ca_file
        """A PEM file of the CA that signed the server certificate (for ``smtp.ca_file``)."""
        self._ssl_context = ssl_context
        self._messages: list[ReceivedMail] = []
        self._failures: list[tuple[Stage, str]] = []
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.sessions = 0
        """Connections accepted so far."""

    # ------------------------------------------------------------------ control

    def fail(self, stage: Stage, reply: str, times: int = 1) -> None:
        """Answer the next ``times`` commands of ``stage`` with ``reply`` (``"451 4.3.0 Busy"``)."""
        code = reply[:3]
        if not (code.isdigit() and code[0] in "45"):
            raise ValueError(f"reply must start with a 4xx or 5xx code, got {reply!r}")
        with self._cond:
            self._failures.extend([(stage, reply)] * times)

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._cond:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[ReceivedMail]:
        """Block until at least ``count`` messages arrived; returns them all."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= count, timeout):
                raise AssertionError(
                    f"expected {count} message(s) within {timeout}s, got {len(self._messages)}"
                )
            return list(self._messages)

    async def wait_for_async(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[ReceivedMail]:
        """:meth:`wait_for` for async tests (waits in a worker thread, the loop runs on)."""
        return await asyncio.to_thread(self.wait_for, count, timeout)

    def smtp_config(self, **overrides: Any) -> SmtpConfig:
        """A monitord ``smtp:`` config for this server (override any field)."""
        fields: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "from": "Collective monitoring <monitor@collective.example>",
            "security": self.security,
            "username": self.username,
            "password": SecretStr(self.password) if self.password is not None else None,
            "timeout": "5s",
            "ca_file": self.ca_file,
        }
        fields.update(overrides)
        if "from_" in fields:
            fields["from"] = fields.pop("from_")
        return SmtpConfig.model_validate(fields)

    # ------------------------------------------------------------------ SMTP hooks

    def _take_failure(self, stage: Stage) -> str | None:
        with self._cond:
            for i, (st, reply) in enumerate(self._failures):
                if st == stage:
                    del self._failures[i]
                    return reply
        return None

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.username is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if (reply := self._take_failure("mail")) is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if (reply := self._take_failure("rcpt")) is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        if (reply := self._take_failure("data")) is not None:
            return reply
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("ssl_object") is not None
        mail = ReceivedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.content),
            tls=tls,
            auth_user=session.auth_data if session.authenticated else None,
        )
        with self._cond:
            self._messages.append(mail)
            self._cond.notify_all()
        return "250 2.0.0 Message accepted for delivery"

    # ------------------------------------------------------------------ lifecycle

    def _factory(self) -> SMTP:
        assert self._loop is not None
        self.sessions += 1
        return SMTP(
            self,
            hostname=SERVER_NAME,
            loop=self._loop,
            tls_context=self._ssl_context if self.security == "starttls" else None,
            require_starttls=self.security == "starttls",
            # AUTH is offered only where a login is configured (plain, after STARTTLS, or
            # over implicit TLS, which aiosmtpd cannot see itself).
            auth_require_tls=self.username is None or self.security == "starttls",
            authenticator=(
                _Authenticator(self.username, self.password)
                if self.username is not None and self.password is not None
                else None
            ),
            timeout=30,
        )

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(
                loop.create_server(
                    self._factory,
                    self.host,
                    0,
                    ssl=self._ssl_context if self.security == "tls" else None,
                )
            )
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(server.wait_closed())
            loop.close()

    def start(self) -> SmtpServer:
        if self._thread is not None:
            raise RuntimeError("the SMTP server is already running")
        self._thread = threading.Thread(target=self._run, name="test-smtp", daemon=True)
        self._thread.start()
        if not self._ready.wait(READY_TIMEOUT):
            raise RuntimeError(f"the test SMTP server did not start within {READY_TIMEOUT}s")
        if self._error is not None:
            raise RuntimeError(f"the test SMTP server failed to start: {self._error}")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(READY_TIMEOUT)
        self._thread = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` with nothing listening (bound, then released)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
    return port


SmtpServerFactory = Callable[..., SmtpServer]


@pytest.fixture
def smtp_server_factory(
    test_ca: TestCA,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SmtpServerFactory]:
    """Start servers with ``factory(security=..., username=..., password=...)``; any TLS one
    gets a certificate for 127.0.0.1/localhost from ``test_ca`` and its ``ca_file`` set."""
    servers: list[SmtpServer] = []
    ca_dir = tmp_path_factory.mktemp("smtp-ca")
    ca_file = ca_dir / "ca.pem"
    test_ca.ca.cert_pem.write_to_path(str(ca_file))

    def factory(**kwargs: Any) -> SmtpServer:
        security = kwargs.get("security", "none")
        if security != "none" and kwargs.get("ssl_context") is None:
            kwargs["ssl_context"] = test_ca.server_context("127.0.0.1", "localhost")
        kwargs.setdefault("ca_file", ca_file if security != "none" else None)
        server = SmtpServer(**kwargs).start()
        servers.append(server)
        return server

    try:
        yield factory
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: SmtpServerFactory) -> SmtpServer:
    """A plain SMTP server (no TLS, no AUTH) on a free loopback port."""
    return smtp_server_factory()
