"""Parsing drupal.org's security feeds: fixtures written here in drupal.org's formats."""

from __future__ import annotations

import html
import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from monitord.drupal.advisory import Advisory, risk_label_for_score
from monitord.drupal.description import (
    parse_risk,
    psa_window,
)
from monitord.drupal.feeds import (
    detect_revision,
    parse_feed,
    parse_psa_json,
    parse_rss,
    parse_title,
)

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


def shared_data() -> Path:
    env = os.environ.get("MONITORD_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


# ---------------------------------------------------------------- building items like drupal.org


def _field(name: str, label: str, inner: str) -> str:
    return (
        f'<div class="field field-name-{name} field-type-text field-label-inline clearfix">'
        f'<div class="field-label">{label}:&nbsp;</div><div class="field-items">'
        f'<div class="field-item even">{inner}</div></div></div>'
    )


DEFAULT_RISK = (
    "<strong>Critical</strong> 16 ∕ 25 AC:Basic/A:None/CI:Some/II:Some/E:Theoretical/TD:All"
)


def rss_item(
    title: str,
    *,
    link: str = "https://www.drupal.org/sa-contrib-2026-300",
    pub: str | None = "Wed, 21 Oct 2026 17:00:00 +0000",
    project: str | None = "Example",
    href: str = "/project/example",
    machine: str | None = "example",
    date: str | None = "2026-October-21",
    risk: str | None = DEFAULT_RISK,
    vuln: str | None = "Access bypass",
    affected: str | None = "<1.2.3",
    cves: str | None = None,
    guid: str | None = "123 at https://www.drupal.org",
) -> str:
    parts = []
    if project is not None:
        parts.append(
            _field("field-project", "Project", f'<a href="{href}">{html.escape(project)}</a>')
        )
    if machine is not None:
        parts.append(
            _field("project-machine-name", "Project machine name", f"<code>{machine}</code>")
        )
    if date is not None:
        parts.append(_field("drupalorg-sa-date", "Date", date))
    if risk is not None:
        parts.append(
            _field(
                "field-sa-criticality",
                "Security risk",
                f'<a href="/security-team/risk-levels" title="AC - Access: x">{risk}</a>',
            )
        )
    if vuln is not None:
        parts.append(_field("field-sa-type", "Vulnerability", html.escape(vuln)))
    if affected is not None:
        parts.append(_field("field-affected-versions", "Affected versions", html.escape(affected)))
    if cves is not None:
        parts.append(_field("field-sa-cve", "CVE IDs", cves))
    desc = escape("".join(parts), {'"': "&quot;"})
    out = (
        f"<item><title>{escape(title)}</title><link>{link}</link><description>{desc}</description>"
    )
    if pub is not None:
        out += f"<pubDate>{pub}</pubDate>"
    if guid is not None:
        out += f'<guid isPermaLink="false">{guid}</guid>'
    return out + "</item>"


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8" ?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Security advisories</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def one(item: str) -> Advisory:
    result = parse_rss(rss(item))
    assert result.errors == (), result.errors
    assert len(result.advisories) == 1
    return result.advisories[0]


# ---------------------------------------------------------------- the fixture feed


@pytest.fixture(scope="module")
def fixture_feed() -> dict[str, Advisory]:
    result = parse_rss((FIXTURES / "security-all.rss.xml").read_bytes())
    assert len(result.errors) == 2, result.errors
    return {a.id: a for a in result.advisories}


def test_fixture_feed_ids_in_order() -> None:
    result = parse_rss((FIXTURES / "security-all.rss.xml").read_bytes())
    assert [a.id for a in result.advisories] == [
        "SA-CORE-2026-020",
        "SA-CONTRIB-2026-201",
        "SA-CONTRIB-2026-202",
        "PSA-2026-10-19",
        "SA-CONTRIB-2026-204",
    ]


def test_one_bad_item_is_reported_and_the_rest_parse() -> None:
    result = parse_rss((FIXTURES / "security-all.rss.xml").read_bytes())
    assert result.errors[0].startswith("item 5 ('Example - Less critical")
    assert "no advisory id" in result.errors[0]
    assert result.errors[1].startswith("item 6 ('Broken Score")
    assert "0–25 scale" in result.errors[1]
    assert not result.ok


def test_core_item_every_field(fixture_feed: dict[str, Advisory]) -> None:
    a = fixture_feed["SA-CORE-2026-020"]
    assert a.kind == "core"
    assert a.project == "Drupal core"
    assert a.machine_name == "drupal"
    assert a.package == "drupal/core"
    assert a.risk_label == "Highly critical"
    assert a.score == 20
    assert a.highly_critical
    assert a.vector == "AC:None/A:None/CI:All/II:All/E:Theoretical/TD:Default"
    assert a.vulnerability == "Remote code execution"
    assert a.affected == ">=8.0.0 <10.2.11 || >=10.3.0 <10.3.9 || >=11.0.0 <11.0.8"
    assert a.cve_ids == ("CVE-2026-10001", "CVE-2026-10002")
    assert a.link == "https://www.drupal.org/sa-core-2026-020"
    assert a.guid == "9900001 at https://www.drupal.org"
    assert a.published == datetime(2026, 10, 21, 17, 5, tzinfo=UTC)
    assert a.solution is not None
    assert a.solution.splitlines() == [
        "Install the latest version:",
        "If you use Drupal 10.3.x, update to Drupal 10.3.9.",
        "If you use Drupal 11.0.x, update to Drupal 11.0.8.",
    ]
    assert a.solution_link == "https://www.drupal.org/project/drupal/releases/10.3.9"
    assert a.window_start is None
    assert a.source == "rss"


def test_contrib_project_with_dash_and_machine_name_from_link(
    fixture_feed: dict[str, Advisory],
) -> None:
    a = fixture_feed["SA-CONTRIB-2026-201"]
    assert a.project == "Views Bulk Operations - Extra"
    assert a.machine_name == "vbo_extra"  # no machine-name field: from /project/vbo_extra
    assert a.package == "drupal/vbo_extra"
    assert (a.risk_label, a.score) == ("Critical", 17)  # plain "/" and plain spaces
    assert a.affected == "<4.2.9 || >=4.3.0 <4.3.2"
    assert a.cve_ids == ()
    assert a.solution_link == "https://www.drupal.org/project/vbo_extra/releases/4.3.2"


def test_vulnerability_with_dash_and_no_spaces_around_slash(
    fixture_feed: dict[str, Advisory],
) -> None:
    a = fixture_feed["SA-CONTRIB-2026-202"]
    assert a.vulnerability == "Cross-site scripting - Stored"
    assert (a.risk_label, a.score) == ("Moderately critical", 12)
    assert a.solution is None and a.solution_link is None


def test_psa_item_has_no_project_and_announces_a_window(fixture_feed: dict[str, Advisory]) -> None:
    a = fixture_feed["PSA-2026-10-19"]
    assert a.kind == "psa"
    assert (a.project, a.package, a.risk_label, a.score, a.affected) == (None,) * 5
    assert not a.highly_critical
    assert a.window_start == datetime(2026, 10, 21, 16, 0, tzinfo=UTC)
    assert a.window_end == datetime(2026, 10, 21, 19, 0, tzinfo=UTC)


def test_cve_field_saying_none_gives_no_ids(fixture_feed: dict[str, Advisory]) -> None:
    a = fixture_feed["SA-CONTRIB-2026-204"]
    assert a.cve_ids == ()
    assert (a.risk_label, a.score) == ("Not critical", 4)
    assert a.affected == "8.x-1.*"


# ---------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("title", "sa_id", "project", "label", "vuln"),
    [
        (
            "Drupal core - Highly critical - Remote Code Execution - SA-CORE-2018-002",
            "SA-CORE-2018-002",
            "Drupal core",
            "Highly critical",
            "Remote Code Execution",
        ),
        (
            "Tawk.to - Live chat application - Critical - Cross Site Request Forgery"
            " - SA-CONTRIB-2026-184",
            "SA-CONTRIB-2026-184",
            "Tawk.to - Live chat application",
            "Critical",
            "Cross Site Request Forgery",
        ),
        (
            "A - B - C - Moderately critical - Access bypass - Multiple - sa-contrib-2026-001",
            "SA-CONTRIB-2026-001",
            "A - B - C",
            "Moderately critical",
            "Access bypass - Multiple",
        ),
        (
            "Critical Mass - Less critical - Critical data leak - SA-CONTRIB-2026-002",
            "SA-CONTRIB-2026-002",
            "Critical Mass",
            "Less critical",
            "Critical data leak",
        ),
        (
            "Upcoming critical contributed project security release on September 23, 2026"
            " - PSA-2026-09-21",
            "PSA-2026-09-21",
            "Upcoming critical contributed project security release on September 23, 2026",
            None,
            None,
        ),
        ("Critical Release - SA-2019-02-19", "SA-2019-02-19", "Critical Release", None, None),
        ("Not an advisory at all", None, "Not an advisory at all", None, None),
        (
            "Module - NOT CRITICAL - DoS - SA-CONTRIB-2026-003",
            "SA-CONTRIB-2026-003",
            "Module",
            "Not critical",
            "DoS",
        ),
    ],
)
def test_titles_parse_from_the_right(
    title: str, sa_id: str | None, project: str, label: str | None, vuln: str | None
) -> None:
    t = parse_title(title)
    assert (t.id, t.project, t.risk_label, t.vulnerability) == (sa_id, project, label, vuln)


# ---------------------------------------------------------------- risk


@pytest.mark.parametrize(
    ("fragment", "label", "score", "vector"),
    [
        (
            "<strong>Moderately critical</strong> 12 ∕ 25 AC:Basic/A:User",
            "Moderately critical",
            12,
            "AC:Basic/A:User",
        ),
        (
            "<strong>Moderately critical</strong> 12\u2009∕\u200925 AC:Basic/A:User",
            "Moderately critical",
            12,
            "AC:Basic/A:User",
        ),
        ("<strong>Critical</strong> 15∕25 AC:None", "Critical", 15, "AC:None"),
        ("<strong>Critical</strong> 19 / 25 AC:None", "Critical", 19, "AC:None"),
        ("<strong>Critical</strong> 19/25 AC:None", "Critical", 19, "AC:None"),
        (
            "<strong>Highly critical</strong>\u200920\u2009/\u200925\u2009AC:None/A:None",
            "Highly critical",
            20,
            "AC:None/A:None",
        ),
        ("<strong>Highly critical</strong> 25 ∕ 25", "Highly critical", 25, None),
        ("<strong>Not critical</strong> 0 ∕ 25 AC:Complex", "Not critical", 0, "AC:Complex"),
        ("<strong>Less critical</strong>", "Less critical", None, None),
        ("Highly critical", "Highly critical", None, None),
        ("22 ∕ 25 AC:None", "Highly critical", 22, "AC:None"),  # label from the band
        ("7 / 25", "Less critical", 7, None),
        ("<strong>highly  CRITICAL</strong> 21∕25", "Highly critical", 21, None),
        (
            "<strong>Moderately critical</strong> 12 &#8725; 25 AC:Basic",
            "Moderately critical",
            12,
            "AC:Basic",
        ),
    ],
)
def test_risk_variants(fragment: str, label: str, score: int | None, vector: str | None) -> None:
    r = parse_risk(fragment)
    assert (r.label, r.score, r.vector) == (label, score, vector)


@pytest.mark.parametrize(
    "fragment",
    [
        "<strong>Somewhat critical</strong> 12 ∕ 25",
        "<strong>Critical</strong> 26 ∕ 25",
        "<strong>Critical</strong> 12 ∕ 20",
        "",
    ],
)
def test_bad_risk_is_an_error_naming_it(fragment: str) -> None:
    with pytest.raises(ValueError, match="security risk"):
        parse_risk(fragment)


@pytest.mark.parametrize(
    ("lo", "hi", "label"),
    [
        (0, 4, "Not critical"),
        (5, 9, "Less critical"),
        (10, 14, "Moderately critical"),
        (15, 19, "Critical"),
        (20, 25, "Highly critical"),
    ],
)
def test_bands(lo: int, hi: int, label: str) -> None:
    for score in range(lo, hi + 1):
        assert risk_label_for_score(score) == label
    for outside in (lo - 1, hi + 1):
        if 0 <= outside <= 25:
            assert risk_label_for_score(outside) != label


@pytest.mark.parametrize("score", [-1, 26, 100])
def test_band_out_of_scale(score: int) -> None:
    with pytest.raises(ValueError, match="0 to 25"):
        risk_label_for_score(score)


@pytest.mark.parametrize(
    ("label", "score", "expected"),
    [
        ("Highly critical", 20, True),
        ("Highly critical", 25, True),
        ("Critical", 19, False),
        ("Highly critical", None, True),  # no score: the label decides
        ("Critical", None, False),
        (None, None, False),
        ("Critical", 20, True),  # label and score disagree: the score decides
        ("Highly critical", 18, False),
    ],
)
def test_highly_critical(label: str | None, score: int | None, expected: bool) -> None:
    a = one(rss_item("X - Critical - Y - SA-CONTRIB-2026-300"))
    assert replace(a, risk_label=label, score=score).highly_critical is expected


# ---------------------------------------------------------------- single items


def test_machine_name_absent_and_no_project_link_is_reported_but_kept() -> None:
    result = parse_rss(
        rss(rss_item("Odd - Critical - XSS - SA-CONTRIB-2026-301", machine=None, href="/node/5"))
    )
    assert [a.id for a in result.advisories] == ["SA-CONTRIB-2026-301"]
    assert result.advisories[0].package is None
    assert len(result.errors) == 1 and "check it by hand" in result.errors[0]


def test_id_from_link_when_title_lacks_it() -> None:
    a = one(
        rss_item(
            "Example - Critical - Access bypass",
            link="https://www.drupal.org/sa-contrib-2026-310",
        )
    )
    assert a.id == "SA-CONTRIB-2026-310"
    assert a.kind == "contrib"


def test_date_field_when_no_pubdate() -> None:
    a = one(rss_item("X - Critical - Y - SA-CONTRIB-2026-302", pub=None, date="2026-March-04"))
    assert a.published == datetime(2026, 3, 4, tzinfo=UTC)


def test_no_date_at_all_is_an_item_error() -> None:
    result = parse_rss(rss(rss_item("X - Critical - Y - SA-CONTRIB-2026-303", pub=None, date=None)))
    assert result.advisories == ()
    assert "date" in result.errors[0]


def test_pubdate_offset_becomes_utc() -> None:
    a = one(
        rss_item("X - Critical - Y - SA-CONTRIB-2026-304", pub="Wed, 21 Oct 2026 18:00:00 +0100")
    )
    assert a.published == datetime(2026, 10, 21, 17, 0, tzinfo=UTC)
    assert a.published.tzinfo is UTC


def test_guid_falls_back_to_link() -> None:
    a = one(rss_item("X - Critical - Y - SA-CONTRIB-2026-305", guid=None))
    assert a.guid == "https://www.drupal.org/sa-contrib-2026-300"


def test_item_without_description_uses_title() -> None:
    item = (
        "<item><title>Mod - Highly critical - RCE - SA-CONTRIB-2026-306</title>"
        "<link>https://www.drupal.org/sa-contrib-2026-306</link>"
        "<pubDate>Wed, 21 Oct 2026 17:00:00 +0000</pubDate></item>"
    )
    a = parse_rss(rss(item)).advisories[0]
    assert (a.project, a.risk_label, a.score, a.vulnerability) == (
        "Mod",
        "Highly critical",
        None,
        "RCE",
    )
    assert a.highly_critical
    assert a.package is None  # no machine name anywhere


def test_core_without_machine_name_field_is_drupal_core() -> None:
    a = one(
        rss_item("Drupal core - Critical - XSS - SA-CORE-2026-007", machine=None, href="/node/3")
    )
    assert (a.kind, a.machine_name, a.package) == ("core", "drupal", "drupal/core")


def test_empty_feed_is_fine() -> None:
    result = parse_rss(rss())
    assert result.advisories == () and result.errors == ()


# ---------------------------------------------------------------- hostile and broken documents


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ((FIXTURES / "billion-laughs.xml").read_bytes(), "entity-expansion"),
        ((FIXTURES / "external-entity.xml").read_bytes(), "entity-expansion"),
        (b"<rss><channel><item></channel></rss>", "not well-formed XML"),
        (b"", "not well-formed XML"),
        (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "not RSS"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>', "not RSS"),
    ],
)
def test_bad_documents_give_an_error_result(data: bytes, expected: str) -> None:
    start = time.process_time()
    result = parse_rss(data)
    assert time.process_time() - start < 1.0  # an expansion was refused, not performed
    assert result.advisories == ()
    assert len(result.errors) == 1 and expected in result.errors[0]


# ---------------------------------------------------------------- PSA windows


def _u(y: int, mo: int, d: int, h: int, mi: int) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "window"),
    [
        (
            "There will be a security release on September 23, 2026 between 17:00 and 21:00 UTC.",
            (_u(2026, 9, 23, 17, 0), _u(2026, 9, 23, 21, 0)),
        ),
        (
            "on Wednesday, October 21st, 2026 between 16:00 and 19:00 UTC",
            (_u(2026, 10, 21, 16, 0), _u(2026, 10, 21, 19, 0)),
        ),
        (
            "release of 8.5.x on February 20th 2019 between 1PM to 5PM America/New York "
            "(1800 to 2200 UTC). Not core.",
            (_u(2019, 2, 20, 18, 0), _u(2019, 2, 20, 22, 0)),
        ),
        (
            "on March 28th 2018 between 18:00 - 19:30 UTC",
            (_u(2018, 3, 28, 18, 0), _u(2018, 3, 28, 19, 30)),
        ),
        (
            "on December 31, 2026 between 22:00 and 01:00 UTC",
            (_u(2026, 12, 31, 22, 0), _u(2027, 1, 1, 1, 0)),
        ),
        ("Updated 2026-09-22, 12:00 UTC, to document that this is not covered.", None),
        ("Drupal 7 reached end of life on January 5, 2025.", None),
        ("", None),
    ],
)
def test_psa_window(text: str, window: tuple[datetime, datetime] | None) -> None:
    assert psa_window(text) == window


# ---------------------------------------------------------------- psa.json


def test_psa_json_fixture() -> None:
    result = parse_psa_json((FIXTURES / "psa.json").read_bytes())
    by_id = {a.id: a for a in result.advisories}
    assert list(by_id) == ["SA-CORE-2026-020", "PSA-2026-10-19", "SA-CONTRIB-2026-205"]
    core = by_id["SA-CORE-2026-020"]
    assert (core.kind, core.package, core.risk_label, core.score) == (
        "core",
        "drupal/core",
        "Highly critical",
        None,
    )
    assert core.highly_critical
    assert core.insecure_versions == ("10.3.8", "11.0.7")
    assert core.affected is None
    assert core.source == "psa-json"
    psa = by_id["PSA-2026-10-19"]
    assert (psa.kind, psa.package, psa.project) == ("psa", "drupal/core", None)
    contrib = by_id["SA-CONTRIB-2026-205"]
    assert (contrib.kind, contrib.project, contrib.package) == (
        "contrib",
        "Views Bulk Operations - Extra",
        "drupal/vbo_extra",
    )
    assert contrib.insecure_versions == ("8.x-4.2", "4.3.1")
    assert contrib.published == datetime(2026, 10, 28, 17, 30, tzinfo=UTC)
    assert len(result.errors) == 2
    assert "item 4" in result.errors[0] and "pubDate" in result.errors[0]
    assert result.errors[1] == "item 5 skipped: not a JSON object"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"title": "x"}', "JSON list"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_psa_json_bad_documents(data: bytes, expected: str) -> None:
    result = parse_psa_json(data)
    assert result.advisories == () and expected in result.errors[0]


def test_parse_feed_sniffs_json_and_xml() -> None:
    assert (
        parse_feed(b"\xef\xbb\xbf  " + (FIXTURES / "psa.json").read_bytes()).advisories[0].source
        == "psa-json"
    )
    assert (
        parse_feed((FIXTURES / "security-all.rss.xml").read_bytes()).advisories[0].source == "rss"
    )


# ---------------------------------------------------------------- fingerprints, JSON, revisions


def _base() -> Advisory:
    return one(
        rss_item(
            "Example - Critical - Access bypass - SA-CONTRIB-2026-300",
            risk="<strong>Critical</strong> 17 ∕ 25 AC:None",
            cves="CVE-2026-1234",
        )
    )


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        ({"risk_label": "Highly critical", "score": 20}, True),
        ({"score": 18}, True),
        ({"risk_label": "Moderately critical"}, True),
        ({"affected": "<1.2.4"}, True),
        ({"affected": None}, True),
        ({"kind": "core"}, True),
        ({"insecure_versions": ("1.2.2",)}, True),
        ({"title": "Renamed"}, False),
        ({"link": "https://example.org/"}, False),
        ({"guid": "x"}, False),
        ({"solution": "Upgrade."}, False),
        ({"cve_ids": ()}, False),
        ({"vector": "AC:Basic"}, False),
        ({"published": datetime(2030, 1, 1, tzinfo=UTC)}, False),
        ({"source": "psa-json"}, False),
        ({}, False),
    ],
)
def test_fingerprint_tracks_decision_fields_only(change: dict[str, object], differs: bool) -> None:
    a = _base()
    b = replace(a, **change)  # type: ignore[arg-type]
    assert (a.fingerprint() != b.fingerprint()) is differs
    assert bool(detect_revision(a, b)) is differs


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"risk_label": "Highly critical", "score": 20},
            ["risk Critical 17 -> Highly critical 20"],
        ),
        ({"score": None, "risk_label": None}, ["risk Critical 17 -> unrated"]),
        ({"affected": "<1.2.4"}, ["affected versions <1.2.3 -> <1.2.4"]),
        ({"affected": None}, ["affected versions <1.2.3 -> none"]),
        (
            {"kind": "core", "score": 20, "risk_label": "Highly critical"},
            ["kind contrib -> core", "risk Critical 17 -> Highly critical 20"],
        ),
        ({"insecure_versions": ("1.2.2", "1.2.1")}, ["insecure versions none -> 1.2.2, 1.2.1"]),
        ({"title": "x"}, []),
    ],
)
def test_detect_revision_messages(change: dict[str, object], expected: list[str]) -> None:
    a = _base()
    assert detect_revision(a, replace(a, **change)) == expected  # type: ignore[arg-type]


def test_json_round_trip_of_every_fixture_advisory() -> None:
    advisories = [
        *parse_rss((FIXTURES / "security-all.rss.xml").read_bytes()).advisories,
        *parse_psa_json((FIXTURES / "psa.json").read_bytes()).advisories,
    ]
    assert len(advisories) == 8
    for a in advisories:
        data = a.to_json()
        assert data["fingerprint"] == a.fingerprint()
        assert Advisory.from_json(data) == a


def test_from_json_rejects_unknown_kind() -> None:
    data = _base().to_json()
    data["kind"] = "theme"
    with pytest.raises(ValueError, match="kind"):
        Advisory.from_json(data)


def test_naive_published_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        replace(_base(), published=datetime(2026, 1, 1))


# ---------------------------------------------------------------- conformance with real data


@pytest.mark.conformance
def test_real_drupal_org_rss_snapshot() -> None:
    path = shared_data() / "drupal" / "drupal-security-all-rss.2026-09-30.trimmed.xml"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    result = parse_rss(path.read_bytes())
    assert result.errors == ()
    by_id = {a.id: a for a in result.advisories}
    assert set(by_id) == {
        "SA-CONTRIB-2026-191",
        "SA-CONTRIB-2026-184",
        "PSA-2026-09-21",
        "SA-CORE-2026-013",
    }
    assert by_id["SA-CONTRIB-2026-184"].project == "Tawk.to - Live chat application"
    assert (by_id["SA-CONTRIB-2026-184"].risk_label, by_id["SA-CONTRIB-2026-184"].score) == (
        "Critical",
        16,
    )
    assert by_id["SA-CORE-2026-013"].package == "drupal/core"
    assert by_id["SA-CORE-2026-013"].affected is not None
    assert "||" in by_id["SA-CORE-2026-013"].affected
    assert by_id["SA-CONTRIB-2026-191"].affected == "<3.0.2"
    assert by_id["PSA-2026-09-21"].window_start == datetime(2026, 9, 23, 17, tzinfo=UTC)


@pytest.mark.conformance
def test_real_psa_json_fixture() -> None:
    path = shared_data() / "drupal" / "psa-json" / "valid-mixed.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    result = parse_psa_json(path.read_bytes())
    assert result.errors == ()
    assert len(result.advisories) == 6
    assert [a.kind for a in result.advisories] == [
        "core",
        "psa",
        "contrib",
        "contrib",
        "psa",
        "psa",
    ]
    assert result.advisories[2].insecure_versions == ("8.x-1.1",)
