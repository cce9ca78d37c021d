"""Release history parsing and core's Update-module verdicts, over fixtures written here.

The fixtures in fixtures/release-history/ are in drupal.org's release-history format; each
says in its comment what it models. Expected verdicts follow core's
update_calculate_project_update_status() rules (see monitord.drupal.releases).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitord.drupal.releases import (
    RELEASE_HISTORY_MAX_BYTES,
    Project,
    ReleaseHistoryError,
    UpdateState,
    parse_release_history,
    update_status,
)

FIXTURES = Path(__file__).parent / "fixtures" / "release-history"
S = UpdateState


def load(name: str) -> Project:
    return parse_release_history((FIXTURES / f"{name}.xml").read_bytes(), source=name)


def test_parse_fields() -> None:
    p = load("pathauto_like.sec.8.x-1.3_8.x-2.2")
    assert p.name == "pathauto_like"
    assert p.title == "Pathauto-like test module"
    assert p.status == "published"
    assert p.supported_branches == ("8.x-1.", "8.x-2.")
    assert p.link == "https://example.com/project/pathauto_like"
    assert [r.version for r in p.releases] == [
        "8.x-3.0-beta2",
        "8.x-3.0-beta1",
        "8.x-2.2",
        "8.x-2.1",
        "8.x-2.0",
        "8.x-1.3",
        "8.x-1.2",
        "8.x-1.1",
    ]
    r = p.releases[3]
    assert r.version == "8.x-2.1" and r.tag == "8.x-2.1" and r.status == "published"
    assert r.types == ("Bug fixes", "Security update", "Insecure")
    assert r.is_insecure and r.is_security_release and not r.is_unsupported and r.is_published
    assert r.date == datetime.fromtimestamp(1760000000 - 4 * 86400, tz=UTC)
    assert r.release_link == "https://example.com/pathauto_like-8-x-2-1-release"
    assert r.security_covered is True
    assert p.releases[0].security_covered is False
    assert r.composer_version == "2.1.0.0"
    assert p.releases[0].composer_version == "3.0.0.0-beta2"


def test_parse_statuses_and_terms() -> None:
    p = load("token_like.semver")
    by_version = {r.version: r for r in p.releases}
    assert by_version["2.0.1"].status == "unpublished" and not by_version["2.0.1"].is_published
    assert by_version["1.0.0"].is_unsupported
    assert load("drupal.project_status.insecure").status == "insecure"


# (fixture, installed, state, recommended, latest, security releases, also available)
CASES = [
    # the installed release is marked Insecure
    ("drupal.sec.10.2.2", "10.2.0", S.NOT_SECURE, "10.2.2", "10.2.2", ("10.2.2",), ()),
    ("drupal.sec.10.2.2", "10.2.1", S.NOT_SECURE, "10.2.2", "10.2.2", ("10.2.2",), ()),
    ("drupal.sec.10.2.2", "10.2.2", S.CURRENT, "10.2.2", "10.2.2", (), ()),
    # a newer security release alone does not make 10.2.x insecure
    ("drupal.sec.10.3.1", "10.2.0", S.UPDATE_AVAILABLE, "10.3.1", "10.3.1", ("10.3.1",), ()),
    ("drupal.sec.10.3.1", "10.2.2", S.UPDATE_AVAILABLE, "10.3.1", "10.3.1", ("10.3.1",), ()),
    ("drupal.sec.10.3.1", "10.3.0", S.NOT_SECURE, "10.3.1", "10.3.1", ("10.3.1",), ()),
    ("drupal.sec.10.3.1", "10.3.1", S.CURRENT, "10.3.1", "10.3.1", (), ()),
    # unsupported branch, releases marked Insecure: insecure wins
    (
        "drupal.sec.10.3.1_insecure-unsupported",
        "10.2.0",
        S.NOT_SECURE,
        "10.3.1",
        "10.3.1",
        ("10.3.1",),
        (),
    ),
    # unsupported branch, not marked Insecure
    (
        "drupal.sec.10.3.1_unsupported",
        "10.2.0",
        S.NOT_SUPPORTED,
        "10.3.1",
        "10.3.1",
        ("10.3.1",),
        (),
    ),
    # pre-releases: security releases listed include the rc
    (
        "drupal.sec.10.4.0-rc2",
        "10.2.2",
        S.UPDATE_AVAILABLE,
        "10.3.1",
        "10.4.0-rc2",
        ("10.4.0-rc2", "10.3.1"),
        (),
    ),
    ("drupal.sec.10.4.0-rc2", "10.3.1", S.CURRENT, "10.3.1", "10.4.0-rc2", (), ()),
    (
        "drupal.sec.10.4.0-rc2",
        "10.2.1",
        S.NOT_SECURE,
        "10.3.1",
        "10.4.0-rc2",
        ("10.4.0-rc2", "10.3.1", "10.2.2"),
        (),
    ),
    ("drupal.sec.10.4.0-rc2", "10.4.0-rc2", S.CURRENT, "10.4.0-rc2", "10.4.0-rc2", (), ()),
    # legacy contrib versions, a secure older branch, and a newer major also available
    (
        "pathauto_like.sec.8.x-2.2_1.x_secure",
        "8.x-1.1",
        S.UPDATE_AVAILABLE,
        "8.x-1.3",
        "8.x-1.3",
        (),
        ("8.x-2.2",),
    ),
    (
        "pathauto_like.sec.8.x-2.2_1.x_secure",
        "1.1.0",
        S.UPDATE_AVAILABLE,
        "8.x-1.3",
        "8.x-1.3",
        (),
        ("8.x-2.2",),
    ),
    (
        "pathauto_like.sec.8.x-2.2_1.x_secure",
        "8.x-1.3",
        S.CURRENT,
        "8.x-1.3",
        "8.x-1.3",
        (),
        ("8.x-2.2",),
    ),
    (
        "pathauto_like.sec.8.x-2.2_1.x_secure",
        "8.x-2.0",
        S.NOT_SECURE,
        "8.x-2.2",
        "8.x-2.2",
        ("8.x-2.2",),
        (),
    ),
    (
        "pathauto_like.sec.8.x-1.3_8.x-2.2",
        "8.x-2.0",
        S.NOT_SECURE,
        "8.x-2.2",
        "8.x-2.2",
        ("8.x-2.2",),
        (),
    ),
    (
        "pathauto_like.sec.8.x-1.3_8.x-2.2",
        "2.0.0",
        S.NOT_SECURE,
        "8.x-2.2",
        "8.x-2.2",
        ("8.x-2.2",),
        (),
    ),
    ("pathauto_like.sec.8.x-1.3_8.x-2.2", "8.x-2.2", S.CURRENT, "8.x-2.2", "8.x-2.2", (), ()),
    (
        "pathauto_like.sec.8.x-1.3_8.x-2.2",
        "8.x-1.2",
        S.NOT_SECURE,
        "8.x-1.3",
        "8.x-1.3",
        ("8.x-1.3",),
        ("8.x-2.2",),
    ),
    (
        "pathauto_like.sec.8.x-1.3_8.x-2.2",
        "8.x-1.3",
        S.CURRENT,
        "8.x-1.3",
        "8.x-1.3",
        (),
        ("8.x-2.2",),
    ),
    # project-level status decides alone
    ("drupal.project_status.insecure", "10.3.0", S.NOT_SECURE, None, None, (), ()),
    ("drupal.project_status.insecure", "10.3.1", S.NOT_SECURE, None, None, (), ()),
    ("token_like.project_status.unsupported", "2.0.1", S.NOT_SUPPORTED, None, None, (), ()),
    ("token_like.project_status.revoked", "2.0.1", S.REVOKED, None, None, (), ()),
    # semantic-versioned contrib: unpublished, Unsupported term, dev release as latest
    (
        "token_like.semver",
        "2.0.0",
        S.UPDATE_AVAILABLE,
        "2.1.0",
        "2.1.x-dev",
        ("2.1.0",),
        ("3.0.0",),
    ),
    (
        "token_like.semver",
        "2.0.2",
        S.UPDATE_AVAILABLE,
        "2.1.0",
        "2.1.x-dev",
        ("2.1.0",),
        ("3.0.0",),
    ),
    ("token_like.semver", "2.0.1", S.REVOKED, "2.1.0", "2.1.x-dev", ("2.1.0",), ("3.0.0",)),
    ("token_like.semver", "1.0.0", S.NOT_SUPPORTED, "2.1.0", "2.1.x-dev", ("2.1.0",), ("3.0.0",)),
    ("token_like.semver", "2.1.0", S.CURRENT, "2.1.0", "2.1.x-dev", (), ("3.0.0",)),
    ("token_like.semver", "3.0.0", S.CURRENT, "3.0.0", "3.0.0", (), ()),
    # core stops at the installed release, so the dev release itself is recommended
    ("token_like.semver", "2.1.x-dev", S.NOT_CHECKED, "2.1.x-dev", "2.1.x-dev", (), ("3.0.0",)),
    # an installed version the history does not list: everything newer on the branch counts
    ("drupal.sec.10.3.1", "10.1.9", S.NOT_SUPPORTED, "10.3.1", "10.3.1", ("10.3.1",), ()),
    ("drupal.sec.10.2.2", "", S.UNKNOWN, None, None, (), ()),
    ("drupal.sec.10.2.2", "banana", S.UNKNOWN, None, None, (), ()),
]


@pytest.mark.parametrize(
    ("fixture", "installed", "state", "recommended", "latest", "security", "also"), CASES
)
def test_update_status(
    fixture: str,
    installed: str,
    state: UpdateState,
    recommended: str | None,
    latest: str | None,
    security: tuple[str, ...],
    also: tuple[str, ...],
) -> None:
    status = update_status(load(fixture), installed)
    assert status.state is state, status.reason
    assert status.recommended == recommended
    assert status.latest == latest
    assert status.security_versions == security
    assert status.also_available == also
    assert status.security_update_required is (state is S.NOT_SECURE)
    assert status.reason


def test_dev_snapshot_with_datestamp() -> None:
    project = load("token_like.semver")
    newest = max(r.date for r in project.releases if r.date is not None)
    fresh = update_status(project, "2.1.x-dev", datestamp=int(newest.timestamp()))
    assert fresh.state is S.CURRENT
    stale = update_status(project, "2.1.x-dev", datestamp=int(newest.timestamp()) - 10 * 86400)
    assert stale.state is S.UPDATE_AVAILABLE


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<project><title>&lol3;</title></project>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE project [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<project><title>&x;</title></project>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "refused unsafe XML"),
        (EXTERNAL, "refused unsafe XML"),
        (b"<html><body>Bad gateway</body></html>", "expected a <project> document"),
        (b"not xml at all", "not XML"),
        (b"<project><title>unclosed", "not XML"),
        (
            b"<error>No release history was found for the requested project (nope).</error>",
            "No release history was found",
        ),
    ],
)
def test_unusable_documents(data: bytes, message: str) -> None:
    with pytest.raises(ReleaseHistoryError, match=r"nope\.xml") as info:
        parse_release_history(data, source="nope.xml")
    assert message in str(info.value)
    assert "root:" not in str(info.value)


def test_size_cap() -> None:
    data = b"<project>" + b" " * RELEASE_HISTORY_MAX_BYTES + b"</project>"
    with pytest.raises(ReleaseHistoryError, match="more than"):
        parse_release_history(data)


def test_no_releases_is_unknown() -> None:
    p = parse_release_history(
        "<project><short_name>x</short_name><supported_branches>1.</supported_branches>"
        "<project_status>published</project_status><releases/></project>"
    )
    assert update_status(p, "1.0.0").state is S.UNKNOWN
