"""``monitord routes explain`` and the routing cross-reference errors of ``check-config``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitord.cli import main

MAIN = """\
agency:
  name: Collective
  support_email: support@collective.example
  holidays: {extra: ["2026-12-29"]}
smtp: {host: 127.0.0.1, port: 25, from: "Mon <monitor@collective.example>"}
notifiers: {pagerduty: {type: pagerduty, routing_key: 0123456789abcdef0123456789abcdef}}
windows:
  weekend: {days: [sat, sun]}
routes:
  - {match: {kind: security-now}, when: always, notify: [tickets, client-contacts, oncall-pager]}
  - {match: {kind: site-down, client_cover: out_of_hours}, when: out_of_hours, notify: [oncall-pager]}
  - {match: {kind: [site-down, site-recovered]}, when: office_hours, notify: [tickets, client-contacts]}
  - {match: {kind: patch-day}, notify: [tickets, client-contacts]}
  - {match: {kind: site-down}, when: weekend, notify: [agency]}
oncall:
  rota:
    - {name: Sam, email: sam@collective.example, pagerduty_user: P123}
    - {name: Alex, email: alex@collective.example, pagerduty_user: P456}
  handover: "mon 09:00"
  overrides: [{from: "2026-12-24T17:00", to: "2026-12-29T09:00", name: Alex}]
  notifier: pagerduty
"""

CLIENT = """\
client: acme
name: ACME Charity
cover: {cover}
contacts:
  - {{name: Jo Bloggs, email: jo@acme.example, notify: [site-down, site-recovered]}}
sites:
  - id: acme-www
    url: https://www.acme.example/
    maintenance: [{{from: "2026-12-24T18:00", to: "2026-12-24T20:00"}}]
"""


def config(tmp_path: Path, cover: str = "out_of_hours", main_text: str = MAIN) -> Path:
    (tmp_path / "clients").mkdir(parents=True, exist_ok=True)
    (tmp_path / "monitord.yml").write_text(main_text)
    (tmp_path / "clients" / "acme.yml").write_text(CLIENT.format(cover=cover))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_christmas_eve_evening(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = config(tmp_path)
    code, out, _ = run(
        capsys, "routes", "explain", "--kind", "site-down", "--client", "acme",
        "--at", "2026-12-24T18:30", "--config", str(d),
    )  # fmt: skip
    assert code == 0
    assert out.splitlines() == [
        "event: site-down (severity error), client acme (cover out_of_hours), site -",
        "at: 2026-12-24T18:30:00+00:00 GMT — out of hours",
        "routes:",
        "  #1 kind=security-now when=always -> tickets, client-contacts, oncall-pager",
        "      no match: kind is site-down",
        "  #2 kind=site-down client_cover=out_of_hours when=out_of_hours -> oncall-pager",
        "      matches, applies now (out of hours now)",
        "  #3 kind=site-down,site-recovered when=office_hours -> tickets, client-contacts",
        "      matches, held until 2026-12-30T09:00:00+00:00 (out of hours: held to the next "
        "office start)",
        "  #4 kind=patch-day when=always -> tickets, client-contacts",
        "      no match: kind is site-down",
        "  #5 kind=site-down when=weekend -> agency",
        "      matches, does not apply now: window weekend is closed",
        "who would be told:",
        "  pagerduty: P456 (Alex) — now",
        "      (PagerDuty pages whoever the service's escalation policy has on call; the "
        "trigger names this person as monitord's on-call, to compare)",
        # `tickets` is the built-in tickets-local notifier (the config names no ticket system).
        "  tickets: (the notifier's own destination) — held until 2026-12-30T09:00:00+00:00",
        "  email: jo@acme.example (Jo Bloggs) — held until 2026-12-30T09:00:00+00:00",
    ]


def test_explain_office_hours_client_and_maintenance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = config(tmp_path, cover="office_hours")
    code, out, _ = run(
        capsys, "routes", "explain", "--kind", "site-down", "--client", "acme", "--site",
        "acme-www", "--at", "2026-12-24T18:30:00+00:00", "--config", str(d),
    )  # fmt: skip
    assert code == 0
    assert "no match: client cover is office_hours" in out
    assert "pagerduty" not in out.split("who would be told:")[1]
    assert "maintenance: in a window until 2026-12-24T20:00:00+00:00" in out


def test_explain_falls_back_to_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = config(tmp_path)
    code, out, _ = run(
        capsys, "routes", "explain", "--kind", "connectivity", "--at", "2026-12-24T18:30",
        "--config", str(d),
    )  # fmt: skip
    assert code == 0
    assert "built-in default routes (no configured route matches):" in out
    assert out.rstrip().endswith("email: support@collective.example (Collective) — now")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--client", "nobody"], "no client 'nobody'"),
        (["--client", "acme", "--site", "nope"], "has no site 'nope'"),
    ],
)
def test_explain_errors_say_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    d = config(tmp_path)
    code, _, err = run(
        capsys, "routes", "explain", "--kind", "site-down", *args, "--config", str(d)
    )
    assert code == 1 and message in err


def test_explain_refuses_a_malformed_at_as_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = config(tmp_path)
    argv = ["routes", "explain", "--kind", "site-down", "--client", "acme", "--at", "yesterday"]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--config", str(d)])
    assert exited.value.code == 2
    assert "'yesterday' is not a date and time" in capsys.readouterr().err


BROKEN = (
    MAIN.replace("notify: [oncall-pager]}", "notify: [oncal-pager]}")
    .replace("when: weekend", "when: weekends")
    .replace("name: Alex}]", "name: Alix}]")
    .replace("notifier: pagerduty", "notifier: opsgenie")
)


def test_check_config_reports_routing_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = config(tmp_path, main_text=BROKEN)
    code, _, err = run(capsys, "check-config", "--config", str(d))
    assert code == 1
    lines = [line.replace(str(d) + "/", "") for line in err.splitlines()]
    assert lines[:4] == [
        "monitord.yml:11:89: routes[1].notify[0]: 'oncal-pager' is neither a configured "
        "notifier nor a pseudo-target — did you mean `oncall-pager`? use one of: agency, "
        "client-contacts, email, oncall-pager, pagerduty, tickets, or add it under `notifiers:`",
        "monitord.yml:14:38: routes[4].when: 'weekends' is not a time window — did you mean "
        "`weekend`? use always, office_hours, out_of_hours or a window defined under `windows:`",
        "monitord.yml:20:72: oncall.overrides[0].name: 'Alix' is not in the on-call rota — did "
        "you mean `Alex`? use one of: Alex, Sam, or add them to oncall.rota",
        "monitord.yml:21:13: oncall.notifier: 'opsgenie' is not a configured notifier — add it "
        "under `notifiers:`, or use email (with an smtp section)",
    ]


def test_check_config_accepts_the_documented_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = config(tmp_path)
    code, out, err = run(capsys, "check-config", "--config", str(d))
    assert code == 0, err
    assert textwrap.dedent(out).startswith("config OK")
