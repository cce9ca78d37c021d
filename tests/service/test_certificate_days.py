"""One certificate, one number: a real tls probe of a trustme certificate expiring in 9 days
and 20 hours, then the probe's message, ``monitord status``, the status page, the e-mail and
the metric all say 9 — and, 21 hours later with no new probe, status and metric say 8."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from monitord.commands.status import format_status
from monitord.daemon import check_key
from tests.helpers.clock import Clock
from tests.helpers.sites import serve_app
from tests.helpers.smtp import SmtpServer, plain_text
from tests.helpers.tls import TestCA
from tests.service.conftest import client, running, write_config
from tests.service.test_api import labels, metrics_of

TLS = check_key("acme", "acme-www", "tls")
TLS_LABELS = labels("acme", "acme-www", "tls", "tls")


async def _ok(_r: web.Request) -> web.Response:
    return web.Response(text="ok")


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", _ok)
    return app


def _status_days(lines: list[str]) -> int:
    (line,) = [ln for ln in lines if re.match(r"\s+\w+\s+tls\s", ln)]
    m = re.search(r"expires in (\d+) days", line)
    assert m, lines
    return int(m.group(1))


async def test_one_certificate_reads_the_same_days_everywhere(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    # The handshake checks dates against the real clock, so "now" is the real one; the
    # daemon's clock starts there and is then driven.
    now = datetime.now(UTC).replace(microsecond=0)
    ca = TestCA()
    pem = tmp_path / "ca.pem"
    ca.ca.cert_pem.write_to_path(str(pem))
    server_ctx = ca.expiring_server_context("127.0.0.1", days=9 + 20 / 24, now=now)
    async with serve_app(_app(), ssl_context=server_ctx) as server:
        cfg = write_config(
            tmp_path / "cfg",
            smtp_port=smtp_server.port,
            site_url=f"https://127.0.0.1:{server.port}/",
        )
        acme = cfg / "clients" / "acme.yml"
        text = acme.read_text()
        text = text.replace("notify: [site-down, site-recovered]", "notify: [certificate]")
        text = text.replace(
            "{type: tls, interval: 6h, min_days_left: 14}",
            f"{{type: tls, interval: 6h, min_days_left: 14, port: {server.port}, ca_file: {pem}}}",
        )
        acme.write_text(text)
        clock = Clock(now)
        async with running(cfg, clock) as (daemon, api), client() as http:
            events = await daemon.tick(TLS)  # the real probe
            assert [e.kind for e in events] == ["certificate"]
            assert daemon.store is not None
            result = (await daemon.store.latest_results())[TLS]
            assert result.message == "certificate expires in 9 days"  # 1. the probe

            (mail,) = await smtp_server.wait_for_async(1)
            body = plain_text(mail.message)
            assert "CERTIFICATE EXPIRES IN 9 DAYS" in body  # 2. the e-mail
            assert "TLS certificate of 127.0.0.1 expires" in body  # the host probed
            assert re.search(r"Days left:\s+9\s", body), body

            async def surfaces() -> tuple[int, int, int, float, str]:
                async with http.get(f"{api.url}api/v1/status") as r:
                    data = await r.json()
                data["source"] = "the daemon"
                async with http.get(f"{api.url}metrics") as r:
                    metrics = metrics_of(await r.text())
                async with http.get(str(api.url)) as r:
                    page = await r.text()
                (cert,) = data["certificates"]
                return (
                    _status_days(format_status(data)),  # 3. monitord status
                    cert["days_left"],  # the status API
                    next(
                        c["certificate"]["days_left"]
                        for s in data["sites"]
                        for c in s["checks"]
                        if s["site"] == "acme-www" and c["check"] == "tls"
                    ),
                    metrics[("monitord_certificate_days_left", TLS_LABELS)],  # 4. the metric
                    page,  # the status page
                )

            status, api_days, check_days, metric, page = await surfaces()
            assert (status, api_days, check_days, metric) == (9, 9, 9, 9.0)
            assert "9 days left" in page

            # 21 hours on, with no new probe (6 h interval): 8 days 23 hours left.
            clock.advance(hours=21)
            status, api_days, check_days, metric, page = await surfaces()
            assert (status, api_days, check_days, metric) == (8, 8, 8, 8.0)
            assert "8 days left" in page
            not_after = (now + timedelta(days=9, hours=20)).timestamp()
            async with http.get(f"{api.url}metrics") as r:
                metrics = metrics_of(await r.text())
            expiry = metrics[("monitord_certificate_expiry_timestamp_seconds", TLS_LABELS)]
            assert expiry == not_after
