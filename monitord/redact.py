"""What may be shown of a URL or of a server's answer: the one place secrets are masked (pure).

Two rules, used by everything that shows a URL or an error text:

- **A URL is shown in its display form** (:func:`display_url`), computed once when the
  configuration is loaded from the text as written: the password of the user-info is always
  ``***`` (``http://monitor:***@host/``), and every part of the URL that holds a ``${NAME}``
  reference is ``***`` as a whole — the user name, the host and port, a path segment, a query
  value (``?key=***``), the fragment. The real URL goes only to the probe.
- **An error text is scrubbed** (:func:`scrub`) of every credential the sender knows, in every
  form a server could echo it back in: as is, URL-quoted, JSON- and HTML-escaped, base64 (HTTP
  Basic and SMTP AUTH), and the credential inside an ``Authorization`` value
  (:func:`credential_parts`: the token of ``Bearer <token>``, the password of ``Basic …``).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "***"
"""What stands in for a secret, in a URL and in a scrubbed text."""

SCRUB_MIN_CHARS = 6
"""Shortest configuration secret scrubbed from any text it was not named for: a port or a flag
given as ``${NAME}`` (five characters at most) would otherwise garble every number in a
message, and is no credential."""

CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-access-token",
        "x-redmine-api-key",
    }
)
"""Request headers whose values are credentials whoever set them (lower-case names)."""

_REFERENCE = re.compile(r"\$\$\{|\$\{[^}]*\}")


def mask_references(text: str) -> str:
    """``text`` as written in the configuration with every ``${NAME}`` replaced by
    :data:`MASK` and every ``$${`` escape by the ``${`` it stands for."""
    return _REFERENCE.sub(lambda m: "${" if m.group(0) == "$${" else MASK, text)


def _part(text: str) -> str:
    """One component of a URL: ``***`` as a whole when it held a reference."""
    return MASK if MASK in text else text


def _query(query: str) -> str:
    pieces = []
    for piece in query.split("&"):
        name, eq, value = piece.partition("=")
        if MASK in name:
            pieces.append(MASK)
        else:
            pieces.append(name + eq + _part(value))
    return "&".join(pieces)


def display_url(url: str, written: str | None = None) -> str:
    """The form of a URL that may be shown anywhere (see the module's rules).

    ``written`` is the URL as the configuration says, with its ``${NAME}`` references; without
    it (a URL with no reference) only the user-info password is masked.
    """
    text = mask_references(written) if written is not None else url
    scheme, sep, rest = text.partition("://")
    if not sep:
        return _part(text)
    if MASK in scheme:
        return MASK
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        netloc = _part(user) + (":" + MASK if colon else "") + "@" + _part(hostport)
    else:
        netloc = _part(hostport)
    tail, hash_, fragment = tail.partition("#")
    path, qmark, query = tail.partition("?")
    path = "/".join(_part(segment) for segment in path.split("/"))
    out = f"{scheme}://{netloc}{path}"
    if qmark:
        out += "?" + _query(query)
    if hash_:
        out += "#" + _part(fragment)
    return out


def display_host(shown_url: str) -> str | None:
    """The host of a display-form URL, or None when it is masked or there is none."""
    try:
        host = urlsplit(shown_url).hostname
    except ValueError:
        return None
    if not host or "*" in host:
        return None
    return host


def link_url(shown_url: str) -> str | None:
    """A display-form URL as a link that can work: without its user-info (a browser would
    send the masked password), or None when a masked part remains in it."""
    scheme, sep, rest = shown_url.partition("://")
    if not sep:
        return None
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    link = f"{scheme}://{rest[:end].rpartition('@')[2]}{rest[end:]}"
    return None if MASK in link else link


def url_credentials(url: str) -> list[str]:
    """The credentials a request to ``url`` carries in its user-info: the password (raw and
    percent-decoded), and ``user:password`` as an HTTP client sends it (Basic)."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return []
    if password is None:
        return []
    out = [password, unquote(password)]
    pair = f"{unquote(user or '')}:{unquote(password)}"
    out += [pair, base64.b64encode(pair.encode("utf-8")).decode("ascii")]
    return out


def credential_parts(value: str) -> list[str]:
    """A credential value and the secrets inside it: for ``<scheme> <credentials>`` (an
    ``Authorization`` value) the credentials; for ``Basic`` also the decoded ``user:password``
    and the password alone."""
    out = [value]
    scheme, space, rest = value.strip().partition(" ")
    if not space or not rest.strip():
        return out
    rest = rest.strip()
    out.append(rest)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return out
        out.append(decoded)
        _user, colon, password = decoded.partition(":")
        if colon and password:
            out.append(password)
    return out


def header_credentials(headers: Mapping[str, str]) -> list[str]:
    """The credentials (with :func:`credential_parts`) of the request headers that carry
    them by name (:data:`CREDENTIAL_HEADERS`)."""
    out: list[str] = []
    for name, value in headers.items():
        if name.lower() in CREDENTIAL_HEADERS and value:
            out += credential_parts(value)
    return out


def secret_forms(secret: str) -> list[str]:
    """The forms a secret can take in a server's answer, longest first: as is, URL-quoted,
    JSON-escaped (also with ``\\/``), HTML-escaped, base64 (padded and not)."""
    raw = secret.encode("utf-8")
    b64 = base64.b64encode(raw).decode("ascii")
    json_form = json.dumps(secret)[1:-1]
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json_form,
        json_form.replace("/", "\\/"),
        html.escape(secret),
        b64,
        b64.rstrip("="),
    }
    return sorted((f for f in forms if f), key=len, reverse=True)


def smtp_auth_forms(username: str, password: str) -> list[str]:
    """What an SMTP client sends for AUTH PLAIN and LOGIN, which a server may echo."""
    user, raw = username.encode("utf-8"), password.encode("utf-8")
    plain = base64.b64encode(b"\0" + user + b"\0" + raw).decode("ascii")
    return [plain, plain.rstrip("="), password]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret, in every form of :func:`secret_forms`, replaced by
    :data:`MASK`; longest first, so a secret holding another is masked whole."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms.update(secret_forms(secret))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


__all__ = [
    "CREDENTIAL_HEADERS",
    "MASK",
    "SCRUB_MIN_CHARS",
    "credential_parts",
    "display_host",
    "display_url",
    "header_credentials",
    "link_url",
    "mask_references",
    "scrub",
    "secret_forms",
    "smtp_auth_forms",
    "url_credentials",
]
