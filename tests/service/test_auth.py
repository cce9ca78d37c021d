"""Auth rules of the HTTP API.

On a loopback listen nothing is asked. Off loopback every endpoint but /healthz and
/heartbeat/… needs ``Authorization: Bearer <token>``. The decision is ``HttpConfig.auth_required``
(loopback or not, or ``require_token``); the tests below check that decision on a table of
addresses, and enforce it over real HTTP with ``require_token: true`` on 127.0.0.1 — the same
code path as a public address, without exposing a test server on every interface (binding
127.0.0.2 would not do: it is a loopback address too).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from monitord.api.server import UNAUTHORIZED_BODY, bearer_matches
from monitord.cli import main
from monitord.config.models import HttpConfig, is_loopback_host, split_listen
from monitord.daemon import check_key
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0
from tests.helpers.secrets import CapturedLogs, assert_no_secret
from tests.service.conftest import API_TOKEN, client, running, write_config

KEY = check_key("acme", "acme-cron", "heartbeat")
PROTECTED = ["/", "/readyz", "/metrics", "/api/v1/status", "/no-such-page"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("10.0.0.1", False),
        ("2001:db8::1", False),
        ("monitor.collective.example", False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_loopback_table(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:8470", ("127.0.0.1", 8470)),
        ("[::1]:8470", ("::1", 8470)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:80", ("localhost", 80)),
    ],
)
def test_split_listen(listen: str, expected: tuple[str, int]) -> None:
    assert split_listen(listen) == expected


@pytest.mark.parametrize("listen", ["8470", "127.0.0.1", "::1:8470", "127.0.0.1:http", "h:70000"])
def test_bad_listen_values_say_how_to_write_them(listen: str) -> None:
    with pytest.raises(ValidationError, match=r"HOST:PORT|brackets|0 to 65535"):
        HttpConfig(listen=listen)


@pytest.mark.parametrize(
    ("fields", "auth"),
    [
        ({}, False),
        ({"listen": None}, False),
        ({"listen": "off"}, False),
        ({"listen": False}, False),  # YAML's bare `off`
        ({"listen": "[::1]:8470"}, False),
        ({"listen": "0.0.0.0:8470", "token": API_TOKEN}, True),
        ({"listen": "192.0.2.7:8470", "token": API_TOKEN}, True),
        ({"listen": "127.0.0.1:8470", "token": API_TOKEN, "require_token": True}, True),
    ],
)
def test_when_auth_is_required(fields: dict[str, object], auth: bool) -> None:
    assert HttpConfig(**fields).auth_required is auth


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"Bearer {API_TOKEN}", True),
        (f"bearer {API_TOKEN}", True),
        (f"Bearer  {API_TOKEN} ", True),
        (None, False),
        ("", False),
        ("Bearer", False),
        (f"Bearer {API_TOKEN[:-1]}", False),
        (f"Bearer {API_TOKEN}x", False),
        (f"Basic {API_TOKEN}", False),
        (API_TOKEN, False),
    ],
)
def test_bearer_header_table(header: str | None, ok: bool) -> None:
    assert bearer_matches(header, API_TOKEN) is ok


def test_public_listen_without_token_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path / "cfg", http="{listen: '0.0.0.0:8470'}")
    assert main(["check-config", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "monitord.yml" in err and "http" in err
    assert "needs a token" in err and "127.0.0.1" in err


def test_short_token_is_a_config_error_without_echoing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITORD_TEST_SHORT_TOKEN", "tooShort-1")
    cfg = write_config(
        tmp_path / "cfg",
        http="{listen: '0.0.0.0:8470', token: '${MONITORD_TEST_SHORT_TOKEN}'}",
    )
    assert main(["check-config", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "at least 16 characters" in err
    assert "tooShort-1" not in err


async def test_token_required_everywhere_but_healthz_and_heartbeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, captured_logs: CapturedLogs
) -> None:
    monkeypatch.setenv("MONITORD_TEST_API_TOKEN", API_TOKEN)
    cfg = write_config(
        tmp_path / "cfg",
        http="{listen: '127.0.0.1:0', token: '${MONITORD_TEST_API_TOKEN}', require_token: true}",
    )
    async with running(cfg, Clock(T0)) as (daemon, api), client() as http:
        base = str(api.url).rstrip("/")
        bad_headers: list[dict[str, str]] = [
            {},
            {"Authorization": "Bearer wrong-token-of-some-length"},
            {"Authorization": f"Bearer {API_TOKEN[:-1]}"},
            {"Authorization": f"Basic {API_TOKEN}"},
            {"Authorization": API_TOKEN},
        ]
        for path in PROTECTED:
            for headers in bad_headers:
                async with http.get(base + path, headers=headers) as r:
                    assert r.status == 401, (path, headers)
                    assert await r.text() == UNAUTHORIZED_BODY
                    assert r.headers["WWW-Authenticate"].startswith("Bearer")
            async with http.get(base + path, headers={"Authorization": f"Bearer {API_TOKEN}"}) as r:
                assert r.status != 401, path
                assert r.status == (
                    404 if path == "/no-such-page" else 503 if path == "/readyz" else 200
                )
        async with http.get(base + "/healthz") as r:
            assert r.status == 200
        token = daemon.heartbeats.records[KEY].token
        async with http.post(f"{base}/heartbeat/{token}") as r:
            assert r.status == 200
        async with http.post(f"{base}/heartbeat/{'y' * len(token)}") as r:
            assert r.status == 404
    assert_no_secret(API_TOKEN, captured_logs.text)
    assert_no_secret(token, captured_logs.text)


async def test_loopback_listen_asks_for_nothing(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg")
    async with running(cfg, Clock(T0)) as (_daemon, api), client() as http:
        for path in ["/", "/metrics", "/api/v1/status"]:
            async with http.get(str(api.url).rstrip("/") + path) as r:
                assert r.status == 200, path


async def test_a_reload_with_a_new_token_applies_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITORD_TEST_API_TOKEN", API_TOKEN)
    cfg = write_config(
        tmp_path / "cfg",
        http="{listen: '127.0.0.1:0', token: '${MONITORD_TEST_API_TOKEN}', require_token: true}",
    )
    new = API_TOKEN[::-1]
    async with running(cfg, Clock(T0)) as (daemon, api), client() as http:
        url = f"{api.url}metrics"
        monkeypatch.setenv("MONITORD_TEST_API_TOKEN", new)
        assert await daemon.reload()
        async with http.get(url, headers={"Authorization": f"Bearer {API_TOKEN}"}) as r:
            assert r.status == 401
        async with http.get(url, headers={"Authorization": f"Bearer {new}"}) as r:
            assert r.status == 200
