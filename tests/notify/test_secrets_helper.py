"""The shared no-secret helper really finds secrets, wherever and however they leak."""

from __future__ import annotations

import base64
import logging

import pytest
import structlog

from tests.helpers.secrets import CapturedLogs, assert_no_secret, exception_text

SECRET = "hunter2-but-longer"
PLAIN_BLOB = base64.b64encode(b"\0monitor\0" + SECRET.encode()).decode()


@pytest.mark.parametrize(
    "text",
    [
        f"password={SECRET}",
        f"AUTH PLAIN {PLAIN_BLOB}",
        f"Authorization: Basic {base64.b64encode(b'monitor:' + SECRET.encode()).decode()}",
        f"token {base64.b64encode(SECRET.encode()).decode()}",
        '{"password": "' + SECRET + '"}',
    ],
)
def test_finds_the_secret_in_its_forms(text: str) -> None:
    with pytest.raises(AssertionError, match="the secret"):
        assert_no_secret(SECRET, "clean text", text, username="monitor")


def test_url_quoted_form() -> None:
    with pytest.raises(AssertionError, match="URL-quoted"):
        assert_no_secret("pa ss/wo&rd!", "q=pa%20ss%2Fwo%26rd%21")


def test_clean_texts_pass_and_the_failure_hides_the_secret() -> None:
    assert_no_secret(SECRET, "nothing here", "hunter2 alone is not it")
    with pytest.raises(AssertionError) as err:
        assert_no_secret(SECRET, f"before {SECRET} after")
    assert SECRET not in str(err.value) and "<SECRET>" in str(err.value)


def test_refuses_meaningless_checks() -> None:
    with pytest.raises(ValueError, match="at least"):
        assert_no_secret("short", "text")
    with pytest.raises(ValueError, match="texts"):
        assert_no_secret(SECRET)


def test_captures_stdlib_logging_with_exception_chains(captured_logs: CapturedLogs) -> None:
    try:
        try:
            raise KeyError(SECRET)
        except KeyError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError:
        logging.getLogger("some.library").debug("failed", exc_info=True)
    with pytest.raises(AssertionError, match="the secret"):
        assert_no_secret(SECRET, captured_logs.text)


def test_captures_structlog_fields_and_exceptions(captured_logs: CapturedLogs) -> None:
    log = structlog.get_logger("monitord.anything")
    log.info("first", user="monitor")
    assert_no_secret(SECRET, captured_logs.text)
    try:
        raise ValueError(f"bad {SECRET}")
    except ValueError:
        log.exception("boom")
    assert captured_logs.events == ["first", "boom"]
    with pytest.raises(AssertionError, match="the secret"):
        assert_no_secret(SECRET, captured_logs.text)


def test_ignored_loggers_are_left_out(captured_logs: CapturedLogs) -> None:
    logging.getLogger("mail.log").info("AUTH %s", SECRET)  # the test SMTP server's own log
    logging.getLogger("aiohttp.access").info("GET /hook/%s", SECRET)
    captured_logs.ignore("aiohttp.access")
    assert_no_secret(SECRET, captured_logs.text)
    assert len(captured_logs.entries) == 2


def test_exception_text_includes_causes() -> None:
    try:
        try:
            raise OSError("inner detail")
        except OSError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as exc:
        text = exception_text(exc)
    assert "inner detail" in text and "outer" in text
