"""``state.url`` selects the PostgreSQL store: its checks, located, and the password never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.config import load_config
from monitord.errors import ConfigError
from tests.config.test_loader import problems, write

AGENCY = "agency: {name: Collective}\nsecurity: {enabled: false}\n"


def test_a_postgres_url_is_taken_and_sqlite_stays_the_default(tmp_path: Path) -> None:
    d = write(
        tmp_path,
        {"monitord.yml": AGENCY + 'state: {url: "postgresql://monitord:${PGPW}@db.example/mon"}\n'},
    )
    config = load_config(d, environ={"PGPW": "s3cret-horse"})
    assert config.main.state.url == "postgresql://monitord:s3cret-horse@db.example/mon"
    plain = write(tmp_path / "plain", {"monitord.yml": AGENCY})
    assert load_config(plain, environ={}).main.state.url is None


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        (
            '{url: "mysql://monitord:${PGPW}@db.example/mon"}',
            "monitord.yml:3:14: state.url: 'mysql://monitord:***@db.example/mon' is not a "
            'PostgreSQL URL — write it as "postgresql://monitord:${PGPASSWORD}@db.example/'
            'monitord"',
        ),
        (
            '{url: "postgresql://monitord:${PGPW}@db.example"}',
            "monitord.yml:3:14: state.url: 'postgresql://monitord:***@db.example' names no "
            "database — end it with /<database>",
        ),
        (
            '{path: var/x.sqlite3, url: "postgres://monitord:${PGPW}@db.example/mon"}',
            "monitord.yml:3:1: state: state.path and state.url are exclusive: path is the SQLite "
            "file, url a PostgreSQL database — remove one of them",
        ),
    ],
)
def test_a_bad_state_url_is_a_located_error_without_the_password(
    tmp_path: Path, state: str, problem: str
) -> None:
    d = write(tmp_path, {"monitord.yml": AGENCY + f"state: {state}\n"})
    found = problems(d, {"PGPW": "s3cret-horse"})
    assert any(problem in p for p in found), found
    assert not any("s3cret-horse" in p for p in found)
    with pytest.raises(ConfigError):
        load_config(d, environ={"PGPW": "s3cret-horse"})
