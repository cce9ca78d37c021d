"""Paging is visible before it is needed: a route that pages on-call when nobody can be paged
is a ``check-config`` warning, and ``routes explain`` says so instead of listing no one."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli import main
from monitord.config import load_config
from monitord.routing import oncall_gap, paging_warnings

SMTP = 'smtp: {host: 127.0.0.1, port: 25, from: "Mon <monitor@collective.example>"}\n'
SUPPORT = "  support_email: support@collective.example\n"
ROTA_EMAIL = (
    "oncall:\n"
    "  rota:\n"
    "    - {name: Sam, email: sam@collective.example}\n"
    "    - {name: Alex}\n"
    "  notifier: email\n"
)
ROTA_PD = (
    "notifiers: {pagerduty: {type: pagerduty, routing_key: 0123456789abcdef0123456789abcdef}}\n"
    "oncall:\n"
    "  rota: [{name: Sam, pagerduty_user: P123}]\n"
    "  notifier: pagerduty\n"
)
ROUTES = (
    "routes:\n"
    "  - {match: {kind: site-down}, when: out_of_hours, notify: [oncall-pager]}\n"
    "  - {match: {kind: [site-down, site-recovered]}, notify: [client-contacts]}\n"
)
CLIENT = """\
client: acme
name: ACME Charity
sites: [{id: acme-www, url: "https://www.acme.example/"}]
"""


def write(tmp_path: Path, agency_extra: str, rest: str) -> Path:
    (tmp_path / "clients").mkdir(parents=True, exist_ok=True)
    (tmp_path / "monitord.yml").write_text(
        "agency:\n  name: Collective\n" + agency_extra + rest, encoding="utf-8"
    )
    (tmp_path / "clients" / "acme.yml").write_text(CLIENT, encoding="utf-8")
    return tmp_path


# (agency lines, rest of monitord.yml, expected fragment of the gap or None)
GAPS = [
    ("", "", "no oncall: rota and no agency.support_email"),
    ("", SMTP, "no oncall: rota and no agency.support_email"),
    (SUPPORT, "", "there is no smtp section"),
    (SUPPORT, SMTP, None),  # falls back to e-mail to the support address
    ("", SMTP + ROTA_EMAIL, "Alex in oncall.rota have no email"),
    ("", SMTP + ROTA_EMAIL.replace("    - {name: Alex}\n", ""), None),
    ("", ROTA_PD, None),
]


@pytest.mark.parametrize(("agency", "rest", "expected"), GAPS)
def test_oncall_gap(tmp_path: Path, agency: str, rest: str, expected: str | None) -> None:
    config = load_config(write(tmp_path, agency, rest))
    gap = oncall_gap(config)
    if expected is None:
        assert gap is None
        assert paging_warnings(config) == []
    else:
        assert gap is not None and expected in gap
        # The built-in routes page on-call for security-now and PSA heads-ups.
        warnings = paging_warnings(config)
        assert len(warnings) == 2
        assert all("the built-in route" in w and expected in w for w in warnings)


def test_configured_routes_are_named_by_index(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "", ROUTES))
    warnings = paging_warnings(config)
    assert warnings[0].startswith(
        "routes[0] (kind=site-down when=out_of_hours -> oncall-pager) pages on-call, "
        "but nobody can be paged: there is no oncall: rota and no agency.support_email"
    )
    # The built-in security-now and PSA routes still apply: no configured route takes them.
    assert len(warnings) == 3


def test_check_config_warns_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write(tmp_path, "", ROUTES)
    code = main(["check-config", "--config", str(cfg)])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("config OK: 1 client, 1 site")
    lines = err.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("warning: monitord.yml: routes[0] (kind=site-down")
    assert all("nobody can be paged" in line for line in lines)


def test_check_config_is_quiet_when_someone_can_be_paged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write(tmp_path, "", ROUTES + ROTA_PD)
    assert main(["check-config", "--config", str(cfg)]) == 0
    assert capsys.readouterr().err == ""


def test_routes_explain_says_nobody_can_be_paged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write(tmp_path, "", SMTP)
    argv = ["routes", "explain", "--kind", "security-now", "--client", "acme"]
    code = main([*argv, "--at", "2026-12-06T03:00", "--config", str(cfg)])
    out = capsys.readouterr().out
    assert code == 0
    assert "default #4 kind=security-now when=out_of_hours -> oncall-pager" in out
    assert (
        "  oncall-pager: NOBODY can be paged — there is no oncall: rota and no "
        "agency.support_email" in out
    )
    # In office hours the route does not apply: no such line.
    main([*argv, "--at", "2026-12-07T10:00", "--config", str(cfg)])
    assert "NOBODY" not in capsys.readouterr().out
