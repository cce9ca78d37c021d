"""``ca_file`` on http and tls checks: an internal site signed by a private CA is trusted
through that CA's PEM file, and only that check trusts it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from monitord.config import load_config
from monitord.errors import ConfigError
from monitord.probes.runner import open_probe_context, run_check
from tests.helpers.sites import serve_app
from tests.helpers.tls import TestCA

from .conftest import make_site


def _app() -> web.Application:
    app = web.Application()

    async def ok(_r: web.Request) -> web.Response:
        return web.Response(text="internal ok")

    app.router.add_get("/", ok)
    return app


@pytest.fixture
def private_ca(tmp_path: Path) -> tuple[TestCA, Path]:
    ca = TestCA()
    pem = tmp_path / "internal-ca.pem"
    ca.ca.cert_pem.write_to_path(str(pem))
    return ca, pem


@pytest.mark.parametrize("kind", ["http", "tls"])
async def test_a_check_trusts_its_ca_file_and_nothing_else_does(
    private_ca: tuple[TestCA, Path], kind: str
) -> None:
    ca, pem = private_ca
    async with (
        serve_app(_app(), ssl_context=ca.server_context()) as server,
        # The system's trust store, as in production: it does not know the private CA.
        open_probe_context() as ctx,
    ):
        extra = {"port": server.port} if kind == "tls" else {}
        plain = make_site(server.url, [{"type": kind, **extra}])
        with_ca = make_site(server.url, [{"type": kind, "ca_file": str(pem), **extra}])
        refused = await run_check(plain, plain.checks[0], ctx)
        trusted = await run_check(with_ca, with_ca.checks[0], ctx)
    assert not refused.ok
    assert "certificate not trusted" in refused.message
    assert trusted.ok, trusted.message


def _config(tmp_path: Path, ca_line: str) -> Path:
    (tmp_path / "clients").mkdir(parents=True, exist_ok=True)
    (tmp_path / "monitord.yml").write_text("agency: {name: Collective}\n")
    (tmp_path / "clients" / "acme.yml").write_text(
        "client: acme\nname: ACME\nsites:\n"
        "  - id: intranet\n    url: https://intranet.acme.example/\n    checks:\n"
        f"      - {{type: http, {ca_line}}}\n"
        f"      - {{type: tls, {ca_line}}}\n"
    )
    return tmp_path


def test_a_relative_ca_file_is_found_in_the_config_directory(
    tmp_path: Path, private_ca: tuple[TestCA, Path]
) -> None:
    _, pem = private_ca
    cfg = _config(tmp_path / "cfg", "ca_file: certs/internal-ca.pem")
    (cfg / "certs").mkdir()
    (cfg / "certs" / "internal-ca.pem").write_bytes(pem.read_bytes())
    config = load_config(cfg)
    checks = config.clients[0].sites[0].checks
    assert [getattr(c, "ca_file", None) for c in checks] == [cfg / "certs" / "internal-ca.pem"] * 2


def test_a_missing_or_unusable_ca_file_is_a_located_error(tmp_path: Path) -> None:
    cfg = _config(tmp_path / "cfg", "ca_file: nowhere.pem")
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    lines = [str(i) for i in exc.value.issues]
    assert len(lines) == 2
    assert (
        "acme.yml:7:" in lines[0]
        and "sites[0].checks[0].ca_file: 'nowhere.pem' is not a file" in lines[0]
    )
    (cfg / "junk.pem").write_text("not a certificate\n")
    (cfg / "clients" / "acme.yml").write_text(
        (cfg / "clients" / "acme.yml").read_text().replace("nowhere.pem", "junk.pem")
    )
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert "'junk.pem' holds no usable CA certificate" in str(exc.value.issues[0])
    assert "BEGIN CERTIFICATE" in str(exc.value.issues[0])
