"""``${NAME}`` resolution: environment first, then systemd credential files; escapes; errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.config import secrets
from monitord.errors import SecretNotFoundError

ENV = {"A": "alpha", "B": "b-value", "EMPTY": "", "BOTH": "from-env"}

# (text, expected value, names referenced)
RESOLVE_TABLE = [
    ("plain text", "plain text", ()),
    ("${A}", "alpha", ("A",)),
    ("x${A}y", "xalphay", ("A",)),
    ("${A}${B}", "alphab-value", ("A", "B")),
    ("${A}-${A}", "alpha-alpha", ("A", "A")),
    ("$${A}", "${A}", ()),
    ("$${A} and ${A}", "${A} and alpha", ("A",)),
    ("$$${A}", "$${A}", ()),  # a lone `$`, then the escape `$${`, then `A}` as text
    ("cost: $5 or $$", "cost: $5 or $$", ()),
    ("${EMPTY}", "", ("EMPTY",)),
    ("${BOTH}", "from-env", ("BOTH",)),
    ("${CRED}", "from-file", ("CRED",)),
    ("${CRLF}", "windows", ("CRLF",)),
    ("${TWO_NL}", "two\n", ("TWO_NL",)),
    ("${NO_NL}", "no newline", ("NO_NL",)),
    ("${INNER_SPACE}", "  spaced  ", ("INNER_SPACE",)),
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "CRED").write_text("from-file\n")
    (creds / "BOTH").write_text("from-file\n")
    (creds / "CRLF").write_bytes(b"windows\r\n")
    (creds / "TWO_NL").write_text("two\n\n")
    (creds / "NO_NL").write_text("no newline")
    (creds / "INNER_SPACE").write_text("  spaced  \n")
    (creds / "DIR").mkdir()
    (creds / "BIG").write_bytes(b"x" * (secrets.MAX_CREDENTIAL_BYTES + 1))
    (creds / "LATIN1").write_bytes(b"caf\xe9\n")
    return {**ENV, secrets.CREDENTIALS_ENV: str(creds)}


@pytest.mark.parametrize(("text", "value", "names"), RESOLVE_TABLE)
def test_resolve(text: str, value: str, names: tuple[str, ...], env: dict[str, str]) -> None:
    r = secrets.resolve(text, env)
    assert r.value == value
    assert r.text == text
    assert r.names == names
    assert r.substituted == bool(names)


def test_secrets_are_the_substituted_values(env: dict[str, str]) -> None:
    r = secrets.resolve("u=${A} p=${CRED}", env)
    assert r.secrets == ("alpha", "from-file")


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("${NOPE}", ("NOPE",)),
        ("${A}${NOPE}${ALSO_NOPE}", ("NOPE", "ALSO_NOPE")),
        ("${DIR}", ("DIR",)),  # a directory of that name is not a credential
    ],
)
def test_missing_names_all_reported(
    text: str, missing: tuple[str, ...], env: dict[str, str]
) -> None:
    with pytest.raises(secrets.MissingSecretError) as info:
        secrets.resolve(text, env)
    assert info.value.names == missing
    for name in missing:
        assert f"export {name}=" in str(info.value)
        assert f"LoadCredential={name}:" in str(info.value)
    assert "alpha" not in str(info.value)


def test_missing_without_credentials_directory() -> None:
    with pytest.raises(secrets.MissingSecretError) as info:
        secrets.resolve("${CRED}", {"A": "alpha"})
    assert info.value.names == ("CRED",)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("${A", "not closed"),
        ("x ${ y", "not closed"),
        ("${}", "not a valid reference"),
        ("${1A}", "not a valid reference"),
        ("${A-B}", "not a valid reference"),
        ("${A B}", "not a valid reference"),
    ],
)
def test_malformed_reference(text: str, words: str, env: dict[str, str]) -> None:
    with pytest.raises(secrets.ReferenceSyntaxError, match=words) as info:
        secrets.resolve(text, env)
    assert "$${" in str(info.value)


@pytest.mark.parametrize(("name", "words"), [("BIG", "larger than"), ("LATIN1", "not UTF-8")])
def test_unusable_credential_file(name: str, words: str, env: dict[str, str]) -> None:
    with pytest.raises(SecretNotFoundError, match=words) as info:
        secrets.resolve(f"${{{name}}}", env)
    assert "xxxx" not in str(info.value) and "caf" not in str(info.value)


def test_read_secret(env: dict[str, str]) -> None:
    assert secrets.read_secret("CRED", env) == "from-file"
    assert secrets.read_secret("A", env) == "alpha"
    with pytest.raises(SecretNotFoundError, match="export NOPE="):
        secrets.read_secret("NOPE", env)


def test_lookup_uses_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITORD_TEST_LOOKUP", "v")
    assert secrets.lookup_secret("MONITORD_TEST_LOOKUP") == "v"
    assert secrets.resolve("${MONITORD_TEST_LOOKUP}").value == "v"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("'ftp://hunter22/' is not a URL", "'ftp://${HOST}/' is not a URL"),
        ("host hunter22 is bad", "host ${HOST} is bad"),
        ("'hunter22' is bad", "'${HOST}' is bad"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact(message: str, expected: str) -> None:
    r = secrets.resolve("ftp://${HOST}/", {"HOST": "hunter22"})
    assert secrets.redact(message, [r]) == expected


def test_redact_longest_first() -> None:
    r1 = secrets.resolve("${SHORT}", {"SHORT": "abcd"})
    r2 = secrets.resolve("${LONG}", {"LONG": "abcdefgh"})
    assert secrets.redact("x abcdefgh y abcd", [r1, r2]) == "x ${LONG} y ${SHORT}"
