"""The shared JSON POST helper (monitord.notify.http): Retry-After, classification, masking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitord.errors import PermanentError, RetryableError
from monitord.notify.http import (
    body_reason,
    classify_reply,
    parse_retry_after,
    safe_url,
)
from monitord.redact import MASK, scrub

NOW = datetime(2026, 11, 26, 14, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("120", 120.0),
        ("1.5", 1.5),
        ("-3", None),
        ("nan", None),
        ("soon", None),
        ("Thu, 26 Nov 2026 14:06:00 GMT", 60.0),
        ("Thu, 26 Nov 2026 14:00:00 GMT", 0.0),  # in the past: now
        ("Thursday, 26-Nov-26 14:07:00 GMT", 120.0),  # RFC 850
        ("Thu Nov 26 14:05:30 2026", 30.0),  # asctime
    ],
)
def test_retry_after(value: str | None, want: float | None) -> None:
    assert parse_retry_after(value, NOW) == want


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, None),
        (202, None),
        (204, None),
        (301, PermanentError),
        (400, PermanentError),
        (401, PermanentError),
        (403, PermanentError),
        (404, PermanentError),
        (408, RetryableError),
        (409, PermanentError),
        (422, PermanentError),
        (425, RetryableError),
        (429, RetryableError),
        (500, RetryableError),
        (502, RetryableError),
        (503, RetryableError),
        (504, RetryableError),
    ],
)
def test_status_classification(status: int, kind: type[Exception] | None) -> None:
    error = classify_reply(
        status, "", {}, service="X", now=NOW, hints={401: "fix the key"}, default_hint="hint"
    )
    if kind is None:
        assert error is None
        return
    assert isinstance(error, kind)
    assert str(error).startswith(f"X answered {status}")
    if status == 401:
        assert str(error).endswith("— fix the key")


def test_retry_after_is_carried() -> None:
    error = classify_reply(503, "", {"retry-after": "42"}, service="X", now=NOW)
    assert isinstance(error, RetryableError)
    assert error.retry_after == 42.0
    assert "in 42s as it asked" in str(error)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            '{"message":"Event object is invalid","errors":["a","b"]}',
            "Event object is invalid; a; b",
        ),
        ('{"message":"bad","errors":{"message":"too long"}}', "bad; message: too long"),
        ('{"error":{"code":"X"}}', '{"error":{"code":"X"}}'),
        ("invalid_payload", "invalid_payload"),
        ("[1,2]", "[1,2]"),
    ],
)
def test_body_reason(text: str, want: str) -> None:
    assert body_reason(text) == want


def test_long_bodies_are_cut_and_secrets_masked() -> None:
    secret = "tok/en with space"
    text = f'{{"message":"{"x" * 1000} {secret}"}}'
    error = classify_reply(400, text, {}, service="X", now=NOW, secrets=[secret])
    assert error is not None
    assert secret not in str(error)
    assert len(str(error)) < 500
    for form in ("tok%2Fen%20with%20space", "tok%2Fen+with+space", secret):
        assert scrub(f"a {form} b", [secret]) == f"a {MASK} b"


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("https://hooks.slack.com/services/T/B/secret", "https://hooks.slack.com"),
        ("https://u:p@x.example:8443/a?sig=1", "https://x.example:8443"),
        ("http://[::1]:80/x", "http://[::1]:80"),
        ("http://[bad", "(an unusable URL)"),
    ],
)
def test_safe_url(url: str, want: str) -> None:
    assert safe_url(url) == want
