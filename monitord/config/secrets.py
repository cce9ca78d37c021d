"""``${NAME}`` references in configuration values.

A reference is replaced by the environment variable ``NAME`` or, when that is not set, by the
contents of the file ``$CREDENTIALS_DIRECTORY/NAME`` (systemd ``LoadCredential=``; one trailing
newline is stripped). ``$${`` writes a literal ``${``.

Resolved values are secrets: callers must never print them. :class:`Resolved` keeps, next to the
value, the text as written and the values that came from references, so an error message about
the value can show what the user wrote instead (:func:`redact`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from monitord.errors import SecretNotFoundError

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
"""The variable systemd sets to the directory holding ``LoadCredential=`` files."""

MAX_CREDENTIAL_BYTES = 64 * 1024
"""A credential is a password or token: anything bigger is the wrong file, not a secret."""

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}?")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ReferenceSyntaxError(ValueError):
    """A ``${`` that does not start a well-formed ``${NAME}`` reference."""


class MissingSecretError(SecretNotFoundError):
    """One or more ``${NAME}`` references name nothing; ``names`` lists them all."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        super().__init__("; ".join(f"{n} is not set — {missing_hint(n)}" for n in names))


@dataclass(frozen=True, slots=True)
class Resolved:
    """A string after substitution.

    ``value`` is the result; ``text`` is what the configuration says; ``secrets`` are the values
    that came from references (empty when the string had none, only ``$${`` escapes).
    """

    value: str
    text: str
    names: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()

    @property
    def substituted(self) -> bool:
        return bool(self.names)


def has_reference(text: str) -> bool:
    """True when ``text`` holds a ``${`` (a reference or an escape) and needs :func:`resolve`."""
    return "${" in text


def lookup_secret(
    name: str,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """The value of ``NAME`` from the environment, else from ``$CREDENTIALS_DIRECTORY/NAME``.

    Returns None when neither has it. Raises :class:`SecretNotFoundError` when the credential
    file exists but cannot be read (the message names the file, never its contents).
    """
    env = os.environ if environ is None else environ
    if name in env:
        return env[name]
    cred_dir = env.get(CREDENTIALS_ENV)
    if not cred_dir:
        return None
    path = Path(cred_dir) / name
    if not path.is_file():
        return None
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_CREDENTIAL_BYTES + 1)
    except OSError as exc:
        raise SecretNotFoundError(
            f"credential file {path} cannot be read ({exc.strerror}); "
            "check its permissions or export the variable instead"
        ) from None
    if len(data) > MAX_CREDENTIAL_BYTES:
        raise SecretNotFoundError(
            f"credential file {path} is larger than {MAX_CREDENTIAL_BYTES} bytes; "
            "it should hold only the secret"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretNotFoundError(
            f"credential file {path} is not UTF-8 text; write the secret as plain text"
        ) from None
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def read_secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Like :func:`lookup_secret`, but a missing secret is a :class:`SecretNotFoundError`
    that says how to provide it."""
    value = lookup_secret(name, environ)
    if value is None:
        raise SecretNotFoundError(missing_hint(name))
    return value


def missing_hint(name: str) -> str:
    """What to do when ``NAME`` is unset (without any value, there is none)."""
    return (
        f"export {name}=… in the daemon's environment, or add a credential named {name} "
        f"(systemd LoadCredential={name}:/path/to/file)"
    )


def resolve(text: str, environ: Mapping[str, str] | None = None) -> Resolved:
    """Replace every ``${NAME}`` in ``text`` and turn ``$${`` into ``${``.

    Raises :class:`ReferenceSyntaxError` for a malformed reference, :class:`MissingSecretError`
    (``.names``: every missing name, not only the first) when a name is unset, and
    :class:`SecretNotFoundError` when a credential file exists but cannot be read.
    """
    out: list[str] = []
    names: list[str] = []
    secrets: list[str] = []
    missing: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        out.append(text[pos : m.start()])
        pos = m.end()
        ref = m.group(0)
        if ref == "$${":
            out.append("${")
            continue
        name = m.group(1)
        if not ref.endswith("}"):
            raise ReferenceSyntaxError(
                "a '${' reference is not closed; write ${NAME}, or $${ for a literal '${'"
            )
        if not _NAME.match(name):
            raise ReferenceSyntaxError(
                f"'${{{name}}}' is not a valid reference; a name has letters, digits and '_' "
                "and does not start with a digit (write $${ for a literal '${')"
            )
        value = lookup_secret(name, environ)
        names.append(name)
        if value is None:
            missing.append(name)
            continue
        secrets.append(value)
        out.append(value)
    out.append(text[pos:])
    if missing:
        raise MissingSecretError(tuple(missing))
    return Resolved("".join(out), text, tuple(names), tuple(secrets))


def redact(message: str, resolved: Iterable[Resolved]) -> str:
    """Remove every substituted value from ``message``.

    A whole resolved string is replaced by the text as written (``'https://${HOST}/'``), then any
    remaining occurrence of a single secret by ``${NAME}``. Longest first, so a secret that
    contains another is removed whole.
    """
    pairs: list[tuple[str, str]] = []
    for r in resolved:
        if not r.substituted:
            continue
        pairs.append((repr(r.value), repr(r.text)))
        pairs.append((r.value, r.text))
        for name, secret in zip(r.names, r.secrets, strict=False):
            pairs.append((repr(secret), repr(f"${{{name}}}")))
            pairs.append((secret, f"${{{name}}}"))
    for old, new in sorted(pairs, key=lambda p: len(p[0]), reverse=True):
        if old:
            message = message.replace(old, new)
    return message
