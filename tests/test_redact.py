"""monitord.redact: the display form of a URL and the scrubbing of echoed credentials (pure)."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest

from monitord.config.loader import load_config
from monitord.config.models import HttpCheck, Site
from monitord.redact import (
    MASK,
    credential_parts,
    display_host,
    display_url,
    header_credentials,
    link_url,
    mask_references,
    scrub,
    secret_forms,
    smtp_auth_forms,
    url_credentials,
)
from tests.helpers.secrets import assert_no_secret

PASS = "s3cret-Pa55-" + "w" * 8
KEY = "k3y-" + "v" * 12


@pytest.mark.parametrize(
    ("written", "want"),
    [
        (
            "http://monitor:${SITE_PASS}@host.example/?key=${SITE_KEY}",
            "http://monitor:***@host.example/?key=***",
        ),
        ("https://www.example.org/", "https://www.example.org/"),
        ("https://u:literal-pass@x.example:8443/a", "https://u:***@x.example:8443/a"),
        ("https://${USER}:${PASS}@x.example/", "https://***:***@x.example/"),
        ("https://${USER}@x.example/", "https://***@x.example/"),
        ("https://${HOST}/status", "https://***/status"),
        ("https://x.example:${PORT}/", "https://***/"),
        ("https://x.example/hook/${TOKEN}/ping", "https://x.example/hook/***/ping"),
        ("https://x.example/p${TOKEN}q/", "https://x.example/***/"),
        (
            "https://x.example/?lang=en&key=${K}&sig=pre${S}",
            "https://x.example/?lang=en&key=***&sig=***",
        ),
        ("https://x.example/?${NAME}=1&a", "https://x.example/?***&a"),
        ("https://x.example/#${FRAG}", "https://x.example/#***"),
        ("${SITE_URL}", "***"),
        ("${SCHEME}://x.example/", "***"),
        ("https://x.example/a$${b}", "https://x.example/a${b}"),
    ],
)
def test_display_url_masks_the_password_and_every_part_with_a_reference(
    written: str, want: str
) -> None:
    assert display_url("(the resolved value is never looked at)", written) == want


def test_display_url_without_references_masks_only_the_password() -> None:
    assert (
        display_url("http://monitor:pw@h.example/?key=abc")
        == "http://monitor:***@h.example/?key=abc"
    )
    assert display_url("http://monitor@h.example/") == "http://monitor@h.example/"
    assert display_url("http://[::1]:8080/x?y=1") == "http://[::1]:8080/x?y=1"


def test_mask_references_keeps_escapes_as_the_value_has_them() -> None:
    assert mask_references("a${X}b$${c}d") == f"a{MASK}b${{c}}d"


def test_display_host() -> None:
    assert display_host("http://monitor:***@h.example:81/") == "h.example"
    assert display_host("https://***/") is None
    assert display_host("***") is None


def test_the_loader_keeps_the_display_form_and_the_probe_the_real_url(tmp_path: Path) -> None:
    (tmp_path / "clients").mkdir()
    (tmp_path / "monitord.yml").write_text(
        "agency: {name: Collective}\nhttp: {listen: '127.0.0.1:${API_PORT}'}\n"
    )
    (tmp_path / "clients" / "acme.yml").write_text(
        textwrap.dedent(
            """\
            client: acme
            name: ACME
            sites:
              - id: acme-www
                url: http://monitor:${SITE_PASS}@www.acme.example/?key=${SITE_KEY}
                checks:
                  - {type: http}
                  - {type: http, url: "https://www.acme.example/health?token=${SITE_KEY}"}
              - id: acme-secret-host
                url: https://${SITE_HOST}/
            """
        )
    )
    env = {
        "SITE_PASS": PASS,
        "SITE_KEY": KEY,
        "SITE_HOST": "hidden.acme.example",
        "API_PORT": "8470",
    }
    config = load_config(tmp_path, environ=env)
    www, hidden = config.clients[0].sites
    assert www.url == f"http://monitor:{PASS}@www.acme.example/?key={KEY}"  # for the probe
    assert www.display_url == "http://monitor:***@www.acme.example/?key=***"
    plain, own = www.checks
    assert www.display_url_of(plain) == www.display_url
    assert isinstance(own, HttpCheck)
    assert own.url == f"https://www.acme.example/health?token={KEY}"
    assert www.display_url_of(own) == "https://www.acme.example/health?token=***"
    assert www.display_name == "www.acme.example"
    assert hidden.display_url == "https://***/"
    assert hidden.display_name == "acme-secret-host"  # the host came from ${SITE_HOST}
    # Every substituted value, for a last-line scrub; a port-sized one is not worth garbling for.
    assert set(config.secret_values) == {PASS, KEY, "hidden.acme.example"}


def test_a_site_built_in_code_or_copied_with_another_url_still_masks_its_password() -> None:
    site = Site(id="s", url="https://u:pw-12345678@x.example/")
    assert site.display_url == "https://u:***@x.example/"
    site.remember_written_url("https://u:${P}@x.example/?k=${K}")
    copied = site.model_copy(update={"url": "https://v:other-pass@y.example/"})
    assert copied.display_url == "https://v:***@y.example/"


def test_credential_parts_of_authorization_values() -> None:
    basic = base64.b64encode(f"monitor:{PASS}".encode()).decode()
    assert credential_parts(f"Bearer {KEY}") == [f"Bearer {KEY}", KEY]
    assert credential_parts(f"Basic {basic}") == [f"Basic {basic}", basic, f"monitor:{PASS}", PASS]
    assert credential_parts(KEY) == [KEY]
    assert credential_parts("Basic not-base64!") == ["Basic not-base64!", "not-base64!"]
    assert header_credentials({"Authorization": f"Bearer {KEY}", "X-Monitord-Key": "k1"}) == [
        f"Bearer {KEY}",
        KEY,
    ]


def test_url_credentials_are_what_a_client_sends_for_user_info() -> None:
    got = url_credentials(f"https://monitor:{PASS}@h.example/")
    assert PASS in got
    assert base64.b64encode(f"monitor:{PASS}".encode()).decode() in got
    assert url_credentials("https://h.example/?key=1") == []


@pytest.mark.parametrize("secret", [PASS, 'tok/en+with space&<quote">', KEY])
def test_scrub_removes_every_form_a_server_could_echo(secret: str) -> None:
    for form in secret_forms(secret):
        text = f"denied: {form}."
        out = scrub(text, [secret])
        assert out == f"denied: {MASK}."
    echoed = " ".join(secret_forms(secret))
    assert_no_secret(secret, scrub(echoed, [secret]))


def test_scrub_masks_a_secret_holding_another_whole() -> None:
    assert scrub("Bearer abcdef-123456", ["abcdef", "Bearer abcdef-123456"]) == MASK


def test_smtp_auth_forms_cover_plain_and_login() -> None:
    text = " ".join(smtp_auth_forms("monitor", PASS))
    assert_no_secret(PASS, scrub(text, smtp_auth_forms("monitor", PASS)), username="monitor")


@pytest.mark.parametrize(
    ("shown", "want"),
    [
        ("http://monitor:***@h.example:81/a?b=1", "http://h.example:81/a?b=1"),
        ("https://h.example/", "https://h.example/"),
        ("https://h.example/?key=***", None),
        ("https://***/", None),
        ("***", None),
    ],
)
def test_link_url_drops_user_info_and_refuses_masked_parts(shown: str, want: str | None) -> None:
    assert link_url(shown) == want
