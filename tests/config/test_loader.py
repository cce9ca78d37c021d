"""load_config, resolve_config_dir and check-config on valid configurations and edge cases."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from monitord.cli import main
from monitord.config import load_config, reader, resolve_config_dir
from monitord.config.models import DnsCheck, HttpCheck, TcpCheck, TlsCheck
from monitord.errors import ConfigError, MonitordError, NotifierTypeError

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "config"

MAIN = """\
agency: {name: Collective}
smtp: {port: 1025, from: "Monitor <monitor@collective.example>"}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def problems(directory: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(directory, environ=environ or {})
    return [str(i) for i in info.value.issues]


# ---------------------------------------------------------------- the bundled example


def test_bundled_example_passes_check_config(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-config", "--config", str(BUNDLED)])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == f"config OK: 2 clients, 5 sites, 12 checks ({BUNDLED})\n"


def test_bundled_example_content() -> None:
    config = load_config(BUNDLED, environ={})
    agency = config.main.agency
    assert agency.office_hours.start == time(9, 0) and agency.office_hours.end == time(17, 0)
    assert agency.holidays.extra == (date(2026, 12, 29),)
    assert (agency.holidays.country, agency.holidays.subdivision) == ("GB", "ENG")
    assert config.main.smtp is not None
    assert (config.main.smtp.host, config.main.smtp.port) == ("127.0.0.1", 1025)
    assert config.main.smtp.password is None
    kinds = {type(check) for _, _, check in config.iter_checks()}
    assert kinds == {HttpCheck, TlsCheck, TcpCheck, DnsCheck}
    found = config.find_site("acme-www")
    assert found is not None
    client, site = found
    assert client.client == "acme"
    assert site.drupal is not None and site.drupal.modules["drupal/core"] == "10.3.1"
    assert site.drupal.modules["drupal/token"] == "1.15"
    assert config.directory == BUNDLED


# ---------------------------------------------------------------- loading details


def test_relative_composer_lock_resolves_against_config_dir(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "monitord.yml": MAIN,
            "locks/acme.lock": '{"packages": []}',
            "clients/acme.yml": f"""\
                client: acme
                name: ACME
                sites:
                  - {{id: a, url: "https://a.example/", drupal: {{composer_lock: locks/acme.lock}}}}
                  - id: b
                    url: https://b.example/
                    drupal: {{composer_lock: ../{tmp_path.name}/locks/./acme.lock}}
                  - id: c
                    url: https://c.example/
                    drupal: {{composer_lock: {tmp_path}/locks/acme.lock}}
                  - {{id: d, url: "https://d.example/", drupal: {{modules: {{x: 1.0.0}}}}}}
                """,
        },
    )
    config = load_config(tmp_path, environ={})
    locks = [s.drupal.composer_lock if s.drupal else "-" for s in config.clients[0].sites]
    assert locks == [tmp_path / "locks" / "acme.lock"] * 3 + [None]


def test_unquoted_times_are_times_not_base_60_numbers(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"monitord.yml": "agency: {name: C, office_hours: {start: 08:30, end: 17:45}}\n"},
    )
    hours = load_config(tmp_path, environ={}).main.agency.office_hours
    assert (hours.start, hours.end) == (time(8, 30), time(17, 45))


def test_merge_keys_and_explicit_override(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "monitord.yml": MAIN,
            "clients/acme.yml": """\
                client: acme
                name: ACME
                x-defaults: &http {type: http, interval: 30s, timeout: 5s}
                sites: []
                """,
        },
    )
    # x-defaults is not a known key: anchors must live inside known structure.
    assert any("unknown key `x-defaults`" in p for p in problems(tmp_path))
    write(
        tmp_path,
        {
            "clients/acme.yml": """\
                client: acme
                name: ACME
                sites:
                  - id: a
                    url: https://a.example/
                    checks:
                      - &http {type: http, interval: 30s, timeout: 5s}
                      - {<<: *http, id: http-b, interval: 90s}
                """,
        },
    )
    checks = load_config(tmp_path, environ={}).clients[0].sites[0].checks
    assert [(c.id, c.interval, c.timeout) for c in checks] == [
        ("http", timedelta(seconds=30), timedelta(seconds=5)),
        ("http-b", timedelta(seconds=90), timedelta(seconds=5)),
    ]


def test_client_files_and_names(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "monitord.yml": MAIN,
            "clients/b.yaml": "client: bravo\nname: B\n",
            "clients/a.yml": "client: alpha\nname: A\n",
            "clients/notes.txt": "not: [config",
            "clients/c.yml.bak": "not: [config",
        },
    )
    config = load_config(tmp_path, environ={})
    assert [c.client for c in config.clients] == ["alpha", "bravo"]


def test_no_clients_directory_is_fine(tmp_path: Path) -> None:
    write(tmp_path, {"monitord.yml": "agency: {name: C}\n"})
    config = load_config(tmp_path, environ={})
    assert config.clients == () and config.main.smtp is None


def test_password_from_environment_and_credentials(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "monitord.yml": """\
                agency: {name: C}
                smtp:
                  from: m@c.example
                  username: ${SMTP_USER}
                  password: ${SMTP_PASSWORD}
                """,
            "creds/SMTP_PASSWORD": "s3cret-from-file\n",
        },
    )
    env = {"SMTP_USER": "monitor", "CREDENTIALS_DIRECTORY": str(tmp_path / "creds")}
    smtp = load_config(tmp_path, environ=env).main.smtp
    assert smtp is not None and smtp.password is not None
    assert smtp.username == "monitor"
    assert smtp.password.get_secret_value() == "s3cret-from-file"
    assert "s3cret" not in repr(smtp) and "s3cret" not in str(smtp)
    env["SMTP_PASSWORD"] = "s3cret-from-env"
    smtp = load_config(tmp_path, environ=env).main.smtp
    assert smtp is not None and smtp.password is not None
    assert smtp.password.get_secret_value() == "s3cret-from-env"


SECRET = "Zq9-hunter2-Xy"

# Fields whose validation fails when given SECRET: the message shows ${NAME}, never SECRET.
LEAK_TABLE = [
    ("main", "agency: {name: C, timezone: '${S}'}", "agency.timezone"),
    ("main", "agency: {name: C, support_email: '${S}'}", "agency.support_email"),
    ("main", "agency: {name: C}\nsmtp: {from: a@b.example, port: '${S}'}", "smtp.port"),
    ("main", "agency: {name: C}\nsmtp: {from: a@b.example, security: '${S}'}", "smtp.security"),
    ("main", "agency: {name: C}\nsmtp: {from: a@b.example, timeout: '${S}'}", "smtp.timeout"),
    ("main", "agency: {name: C}\nsecurity: {feeds: ['x${S}']}", "security.feeds[0]"),
    ("client", "contacts: [{name: J, email: '${S}'}]", "contacts[0].email"),
    (
        "client",
        "contacts: [{name: J, email: j@a.example, notify: ['${S}']}]",
        "contacts[0].notify[0]",
    ),
    ("client", "sites: [{id: '${S}', url: 'https://a.example/'}]", "sites[0].id"),
    ("client", "sites: [{id: a, url: 'ftp://${S}/'}]", "sites[0].url"),
    (
        "client",
        "sites: [{id: a, url: 'https://a.example/', checks: [{type: '${S}'}]}]",
        "sites[0].checks[0].type",
    ),
    (
        "client",
        "sites: [{id: a, url: 'https://a.example/', checks: [{type: http, interval: '${S}'}]}]",
        "sites[0].checks[0].interval",
    ),
    (
        "client",
        "sites: [{id: a, url: 'https://a.example/', checks: [{type: http, id: '${S}'}, "
        "{type: http, id: '${S}'}]}]",
        "sites[0].checks[1].id",
    ),
]


@pytest.mark.parametrize(("where", "yaml_text", "path"), LEAK_TABLE)
def test_substituted_values_never_in_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    yaml_text: str,
    path: str,
) -> None:
    if where == "main":
        files = {"monitord.yml": yaml_text + "\n"}
    else:
        files = {"monitord.yml": MAIN, "clients/a.yml": f"client: a\nname: A\n{yaml_text}\n"}
    write(tmp_path, files)
    found = problems(tmp_path, {"S": SECRET})
    assert any(f": {path}: " in p for p in found), found
    assert any("${S}" in p for p in found), found
    for p in found:
        assert SECRET not in p and "hunter2" not in p
    # and through the command line, with the secret in the real environment
    monkeypatch.setenv("S", SECRET)
    assert main(["check-config", "--config", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert SECRET not in out + err and "${S}" in err


def test_problems_from_every_file_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "monitord.yml": "agency: {name: C, timezone: Nowhere/Land}\n",
            "clients/a.yml": "client: a\nname: A\nsites: [{id: x, url: nope}]\n",
            "clients/b.yml": "client: b\nname: [B]\n",
        },
    )
    found = problems(tmp_path)
    assert [p.split(": ", 1)[0] for p in found] == [
        f"{tmp_path}/monitord.yml:1:29",  # the value
        f"{tmp_path}/clients/a.yml:3:22",  # the value
        f"{tmp_path}/clients/b.yml:2:1",  # a list where text belongs: its key
    ]


def test_regex_error_does_not_echo_a_secret(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "monitord.yml": MAIN,
            "clients/a.yml": """\
                client: a
                name: A
                sites:
                  - id: a
                    url: https://a.example/
                    checks: [{type: http, expect: {regex: "(${S}"}}]
                """,
        },
    )
    found = problems(tmp_path, {"S": SECRET})
    assert len(found) == 1 and ": sites[0].checks[0].expect.regex: " in found[0]
    assert SECRET not in found[0]


def test_alias_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_CONFIG_NODES", 5000)
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    write(tmp_path, {"monitord.yml": "\n".join(levels) + "\n"})
    found = problems(tmp_path)
    assert found == [
        f"{tmp_path}/monitord.yml:1:1: (top level): more than 5000 values once aliases are "
        "expanded — split the file or use fewer nested *aliases"
    ]


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "monitord.yml").write_bytes(b"agency: {name: caf\xe9}\n")
    assert problems(tmp_path) == [
        f"{tmp_path}/monitord.yml:1:1: (top level): not UTF-8 text (byte 18) — "
        "save the file as UTF-8"
    ]


# ---------------------------------------------------------------- finding the directory


@pytest.mark.parametrize(
    ("arg", "env", "system", "local", "expected"),
    [
        ("given", "fromenv", True, True, "given"),
        (None, "fromenv", True, True, "fromenv"),
        (None, None, True, True, "system"),
        (None, None, False, True, "local"),
        (None, "", False, True, "local"),
    ],
)
def test_resolve_config_dir(
    tmp_path: Path,
    arg: str | None,
    env: str | None,
    system: bool,
    local: bool,
    expected: str,
) -> None:
    names = {"system": tmp_path / "etc-monitord", "local": tmp_path / "config"}
    if system:
        names["system"].mkdir()
    if local:
        names["local"].mkdir()
    environ = {} if env is None else {"MONITORD_CONFIG": env}
    got = resolve_config_dir(
        arg, environ=environ, system_dir=names["system"], local_dir=names["local"]
    )
    assert got == names.get(expected, Path(expected))


def test_resolve_config_dir_nothing_found(tmp_path: Path) -> None:
    with pytest.raises(MonitordError) as info:
        resolve_config_dir(
            None, environ={}, system_dir=tmp_path / "etc", local_dir=tmp_path / "cfg"
        )
    text = str(info.value)
    assert str(tmp_path / "etc") in text and str(tmp_path / "cfg") in text
    assert "--config" in text and "MONITORD_CONFIG" in text


def test_check_config_uses_monitord_config_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path, {"monitord.yml": "agency: {name: C}\n", "clients/a.yml": "client: a\nname: A\n"}
    )
    monkeypatch.setenv("MONITORD_CONFIG", str(tmp_path))
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out == f"config OK: 1 client, 0 sites, 0 checks ({tmp_path})\n"


def test_route_kinds_follow_the_event_kinds() -> None:
    """A route may match every event kind but ``digest`` (made after routing), and nothing else."""
    from pydantic import ValidationError

    from monitord.config.models import Route
    from monitord.events import EVENT_KINDS, ROUTE_KINDS

    assert set(ROUTE_KINDS) == set(EVENT_KINDS) - {"digest"}
    for kind in EVENT_KINDS:
        route = {"match": {"kind": kind}, "notify": ["agency"]}
        if kind == "digest":
            with pytest.raises(ValidationError):
                Route.model_validate(route)
        else:
            assert Route.model_validate(route).match.kind == (kind,)


# ---------------------------------------------------------------- notifier types, passed in


class _Pager(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str


class _Types:
    """Stands in for the plugin registry: knows `pager`, refuses anything else."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def options_model(self, type_name: str) -> type[BaseModel]:
        self.asked.append(type_name)
        if type_name == "pager":
            return _Pager
        raise NotifierTypeError(f"unknown notifier type {type_name!r}", "use pager")


NOTIFIERS = (
    MAIN
    + """\
notifiers:
  ops: {type: pager, key: k, colour: red}
  chat: {type: slack}
  email: {type: pager, key: k}
"""
)


def test_notifier_types_are_asked_and_their_answers_located(tmp_path: Path) -> None:
    write(tmp_path, {"monitord.yml": NOTIFIERS})
    types = _Types()
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={}, notifier_types=types)
    assert [str(i) for i in info.value.issues] == [
        f"{tmp_path}/monitord.yml:4:30: notifiers.ops.colour: unknown key `colour` — "
        "allowed keys: key",
        f"{tmp_path}/monitord.yml:5:16: notifiers.chat.type: unknown notifier type 'slack' — "
        "use pager",
        f"{tmp_path}/monitord.yml:6:3: notifiers.email: the name `email` is the built-in e-mail "
        "notifier — give this notifier another name, such as `oncall-pager`",
    ]
    assert types.asked == ["pager", "slack"]  # never for an entry refused before its type


def test_without_notifier_types_only_the_configuration_is_checked(tmp_path: Path) -> None:
    """No notifier is imported: the loader does not depend on the notifiers."""
    write(tmp_path, {"monitord.yml": NOTIFIERS})
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from monitord.config import load_config\n"
        "from monitord.errors import ConfigError\n"
        "try:\n"
        f"    load_config(Path({str(tmp_path)!r}), environ={{}})\n"
        "except ConfigError as exc:\n"
        "    print(*exc.issues, sep='\\n')\n"
        "print('notify loaded:', any(m.startswith('monitord.notify') for m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == [
        f"{tmp_path}/monitord.yml:6:3: notifiers.email: the name `email` is the built-in e-mail "
        "notifier — give this notifier another name, such as `oncall-pager`",
        "notify loaded: False",
    ]
