"""decide.py: matching, actions, patch days, revisions, PSA windows — big tables, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from monitord.calendar import BusinessCalendar
from monitord.drupal import decide as dc
from monitord.drupal import events as ev
from monitord.drupal import match as mt
from monitord.drupal import psa as pw
from monitord.drupal.advisory import Advisory
from monitord.drupal.inventory import Inventory

CAL = BusinessCalendar()  # Europe/London, Mon–Fri 09:00–17:00, GB/ENG bank holidays
SITE = dc.SiteRef("acme", "acme-www", "ACME Charity", "www.acme.example")
NOW = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)  # Thursday, office hours
NOV_PATCH = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)  # Thu 19 Nov 09:00 GMT


def adv(
    sa_id: str = "SA-CONTRIB-2026-100",
    *,
    kind: str = "contrib",
    package: str | None = "drupal/webform",
    label: str | None = "Moderately critical",
    score: int | None = 12,
    affected: str | None = "<6.2.9",
    insecure: tuple[str, ...] = (),
    solution: str | None = None,
    source: str = "rss",
    title: str | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> Advisory:
    return Advisory(
        id=sa_id,
        kind=kind,  # type: ignore[arg-type]
        title=title or f"Project - {label} - Access bypass - {sa_id}",
        project="Drupal core" if kind == "core" else "Webform",
        machine_name=None if package is None else package.split("/")[1],
        package=package,
        risk_label=label,
        score=score,
        vector=None,
        vulnerability="Access bypass",
        affected=affected,
        cve_ids=(),
        link=f"https://www.drupal.org/{sa_id.lower()}",
        guid=sa_id,
        published=datetime(2026, 11, 4, 17, 0, tzinfo=UTC),
        solution=solution,
        insecure_versions=insecure,
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        source=source,  # type: ignore[arg-type]
    )


def core(label: str | None = "Highly critical", score: int | None = 20, **kw: Any) -> Advisory:
    kw.setdefault("affected", ">=8.0.0 <10.3.9 || >=11.0.0 <11.0.8")
    return adv(
        "SA-CORE-2026-030", kind="core", package="drupal/core", label=label, score=score, **kw
    )


def inv(known: bool = True, **packages: str) -> Inventory:
    return Inventory(
        packages={f"drupal/{k}": v for k, v in packages.items()},
        source="modules",
        known=known,
    )


UNKNOWN = Inventory(packages={}, source="none", known=False)

# (name, advisory, inventory, action, affected)
DECIDE_TABLE: list[tuple[str, Advisory, Inventory | None, str, bool | None]] = [
    # core, Highly critical by score
    ("core HC affected 10.3", core(), inv(core="10.3.8"), "now", True),
    ("core HC affected 11.0", core(), inv(core="11.0.7"), "now", True),
    ("core HC affected old 8", core(), inv(core="8.9.20"), "now", True),
    ("core HC fixed 10.3.9", core(), inv(core="10.3.9"), "none", False),
    ("core HC fixed 11.0.8", core(), inv(core="11.0.8"), "none", False),
    ("core HC 10.4 not in range", core(), inv(core="10.4.0"), "none", False),
    ("core HC 7.x not in range", core(), inv(core="7.101"), "none", False),
    ("core score 25", core(score=25), inv(core="10.3.1"), "now", True),
    ("core score 20 lowest HC", core(score=20), inv(core="10.3.1"), "now", True),
    ("core score 19 is less", core("Critical", 19), inv(core="10.3.1"), "patch-day", True),
    ("core score 15 critical", core("Critical", 15), inv(core="10.3.1"), "patch-day", True),
    ("core moderately 12", core("Moderately critical", 12), inv(core="10.3.1"), "patch-day", True),
    ("core less critical 7", core("Less critical", 7), inv(core="10.3.1"), "patch-day", True),
    ("core not critical 2", core("Not critical", 2), inv(core="10.3.1"), "patch-day", True),
    ("core HC label, no score", core("Highly critical", None), inv(core="10.3.1"), "now", True),
    ("core score beats label", core("Critical", 21), inv(core="10.3.1"), "now", True),
    ("core unrated", core(None, None), inv(core="10.3.1"), "patch-day", True),
    # core with no or broken inventory
    ("core, no inventory", core(), None, "unknown", None),
    ("core, inventory unknown", core(), UNKNOWN, "unknown", None),
    ("core less, inventory unknown", core("Less critical", 5), UNKNOWN, "unknown", None),
    ("core, partial inventory has core", core(), inv(False, core="10.3.8"), "now", True),
    ("core, known inventory without core", core(), inv(webform="6.2.3"), "none", False),
    # contrib
    ("contrib moderately affected", adv(), inv(webform="6.2.3"), "patch-day", True),
    ("contrib fixed", adv(), inv(webform="6.2.9"), "none", False),
    ("contrib newer", adv(), inv(webform="6.3.0"), "none", False),
    ("contrib not installed", adv(), inv(core="10.3.8"), "none", False),
    ("contrib, no inventory", adv(), None, "none", False),
    ("contrib, inventory unknown", adv(), UNKNOWN, "none", False),
    ("contrib partial inventory lists it", adv(), inv(False, webform="6.2.3"), "patch-day", True),
    (
        "contrib HC affected",
        adv(label="Highly critical", score=22),
        inv(webform="6.0.0"),
        "now",
        True,
    ),
    (
        "contrib HC not affected",
        adv(label="Highly critical", score=22),
        inv(webform="6.2.9"),
        "none",
        False,
    ),
    (
        "contrib critical 18",
        adv(label="Critical", score=18),
        inv(webform="6.0.0"),
        "patch-day",
        True,
    ),
    # Drupal version strings
    ("8.x-1.5 is 1.5.0", adv(affected="<1.6.0"), inv(webform="8.x-1.5"), "patch-day", True),
    ("8.x-1.6 is 1.6.0", adv(affected="<1.6.0"), inv(webform="8.x-1.6"), "none", False),
    ("7.x-3.4-beta2", adv(affected="<3.5.0"), inv(webform="7.x-3.4-beta2"), "patch-day", True),
    ("beta satisfies <=", adv(affected="<=1.2.3"), inv(webform="1.2.3-beta1"), "patch-day", True),
    ("beta also below <", adv(affected="<1.2.3"), inv(webform="1.2.3-beta1"), "none", False),
    ("dev branch never ordered", adv(affected="<2.0.0"), inv(webform="dev-1.x"), "none", False),
    ("wildcard 11.2.*", adv(affected="11.2.*"), inv(webform="11.2.5"), "patch-day", True),
    ("wildcard 11.2.* miss", adv(affected="11.2.*"), inv(webform="11.3.0"), "none", False),
    ("caret ^8.0", adv(affected="^8.0"), inv(webform="8.9.1"), "patch-day", True),
    ("caret ^8.0 miss", adv(affected="^8.0"), inv(webform="9.0.0"), "none", False),
    ("tilde ~1.2", adv(affected="~1.2"), inv(webform="1.9.0"), "patch-day", True),
    ("star", adv(affected="*"), inv(webform="0.1.0"), "patch-day", True),
    ("or with |", adv(affected="<1.0.0 | >=2.0.0 <2.1.0"), inv(webform="2.0.5"), "patch-day", True),
    ("hyphen range", adv(affected="1.0 - 2.0"), inv(webform="1.5.0"), "patch-day", True),
    # cannot tell: check by hand
    ("unparseable version", adv(), inv(webform="banana"), "unknown", None),
    ("unparseable constraint", adv(affected="<<>>"), inv(webform="6.2.3"), "unknown", None),
    ("no constraint, no list", adv(affected=None), inv(webform="6.2.3"), "unknown", None),
    ("no package", adv(package=None), inv(webform="6.2.3"), "unknown", None),
    # psa.json records: insecure lists
    (
        "psa.json listed",
        adv(
            label="Highly critical",
            score=None,
            affected=None,
            insecure=("8.x-4.2", "4.3.1"),
            source="psa-json",
        ),
        inv(webform="4.2.0"),
        "now",
        True,
    ),
    (
        "psa.json listed exactly",
        adv(
            label="Highly critical",
            score=None,
            affected=None,
            insecure=("8.x-4.2", "4.3.1"),
            source="psa-json",
        ),
        inv(webform="4.3.1"),
        "now",
        True,
    ),
    (
        "psa.json not listed",
        adv(
            label="Highly critical",
            score=None,
            affected=None,
            insecure=("8.x-4.2",),
            source="psa-json",
        ),
        inv(webform="4.3.2"),
        "none",
        False,
    ),
    (
        "psa.json moderately listed",
        adv(affected=None, score=None, insecure=("6.2.3",), source="psa-json"),
        inv(webform="6.2.3"),
        "patch-day",
        True,
    ),
    # PSAs are not matched
    (
        "psa",
        adv("PSA-2026-11-16", kind="psa", package=None, affected=None),
        inv(webform="1.0.0"),
        "none",
        False,
    ),
    (
        "psa, inventory unknown",
        adv("PSA-2026-11-16", kind="psa", package=None),
        UNKNOWN,
        "none",
        False,
    ),
]


@pytest.mark.parametrize(
    ("advisory", "inventory", "action", "affected"),
    [row[1:] for row in DECIDE_TABLE],
    ids=[row[0] for row in DECIDE_TABLE],
)
def test_decide_table(
    advisory: Advisory, inventory: Inventory | None, action: str, affected: bool | None
) -> None:
    d = dc.decide(advisory, SITE, inventory, CAL, NOW)
    assert d.action == action
    assert d.match.affected is affected
    assert d.reason  # always says why
    assert (d.patch_day is not None) == (action == "patch-day")
    if action == "patch-day":
        assert d.patch_day == NOV_PATCH
    if d.match.installed is not None:
        assert d.match.installed in d.reason  # the why names the installed version
    if d.match.installed is not None and affected is not None and advisory.affected:
        assert advisory.affected in d.reason  # … and the constraint


def test_table_is_big_enough() -> None:
    assert len(DECIDE_TABLE) >= 50


def test_unknown_inventory_reason_says_check_by_hand() -> None:
    d = dc.decide(core(), SITE, None, CAL, NOW)
    assert d.reason == "inventory unknown — check by hand"


# ---------------------------------------------------------------- patch days


def _utc(y: int, m: int, d: int, h: int = 9) -> datetime:
    return datetime(y, m, d, h, 0, tzinfo=UTC)


PATCH_DAY_TABLE: list[tuple[str, datetime, BusinessCalendar, datetime]] = [
    ("early November", NOW, CAL, NOV_PATCH),
    ("release Wednesday evening", _utc(2026, 11, 18, 17), CAL, NOV_PATCH),
    ("patch day 08:59", _utc(2026, 11, 19, 8) + timedelta(minutes=59), CAL, NOV_PATCH),
    ("patch day 09:00 exactly", NOV_PATCH, CAL, NOV_PATCH),
    ("patch day 09:00:01 → December", NOV_PATCH + timedelta(seconds=1), CAL, _utc(2026, 12, 17)),
    ("month end January → February", _utc(2026, 1, 31, 23), CAL, _utc(2026, 2, 19)),
    ("year end → January 2027", _utc(2026, 12, 31, 23), CAL, _utc(2027, 1, 21)),
    ("after December patch day", _utc(2026, 12, 17, 10), CAL, _utc(2027, 1, 21)),
    ("month starting on Thursday: 4th Thursday", _utc(2026, 10, 1, 0), CAL, _utc(2026, 10, 22, 8)),
    ("January 2026 starts on Thursday", _utc(2026, 1, 2, 12), CAL, _utc(2026, 1, 22)),
    ("summer time: 09:00 BST is 08:00 UTC", _utc(2026, 6, 1, 12), CAL, _utc(2026, 6, 18, 8)),
    (
        "after June patch day (09:30 BST)",
        _utc(2026, 6, 18, 8) + timedelta(minutes=30),
        CAL,
        _utc(2026, 7, 16, 8),
    ),
    ("clock change week (March)", _utc(2026, 3, 20, 12), CAL, _utc(2026, 4, 16, 8)),
    (
        "closure on patch day → Friday",
        NOW,
        BusinessCalendar(extra=[date(2026, 11, 19)]),
        _utc(2026, 11, 20),
    ),
    (
        "closure Thursday and Friday → Monday",
        NOW,
        BusinessCalendar(extra=[date(2026, 11, 19), date(2026, 11, 20)]),
        _utc(2026, 11, 23),
    ),
    (
        "other zone: New York 09:00",
        NOW,
        BusinessCalendar("America/New_York", country=None),
        datetime(2026, 11, 19, 14, 0, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(
    ("now", "cal", "expected"),
    [row[1:] for row in PATCH_DAY_TABLE],
    ids=[row[0] for row in PATCH_DAY_TABLE],
)
def test_patch_day_of_a_queued_item(
    now: datetime, cal: BusinessCalendar, expected: datetime
) -> None:
    d = dc.decide(adv(), SITE, inv(webform="6.2.3"), cal, now)
    assert d.action == "patch-day"
    assert d.patch_day == expected
    assert d.patch_day is not None and d.patch_day >= now


# ---------------------------------------------------------------- revisions


def decision(action: str, installed: str = "6.2.3") -> dc.Decision:
    m = mt.Match(action in ("now", "patch-day"), "why", "drupal/webform", installed)
    return dc.Decision(
        "SA-CONTRIB-2026-100",
        SITE,
        action,  # type: ignore[arg-type]
        m,
        "fp2",
        NOV_PATCH if action == "patch-day" else None,
    )


DEC_PATCH = datetime(2026, 12, 17, 9, 0, tzinfo=UTC)


def prior(action: str, patch_day: datetime | None = None) -> dc.Prior:
    return dc.Prior(action, "fp1", "6.2.3", patch_day)  # type: ignore[arg-type]


TRANSITIONS: list[tuple[str, dc.Prior | None, str, str, tuple[str, ...], datetime | None]] = [
    ("first: now", None, "now", "now", ("act-now",), None),
    ("first: patch-day", None, "patch-day", "patch-day", ("queue",), NOV_PATCH),
    ("first: unknown", None, "unknown", "unknown", ("tell-unknown",), None),
    ("first: none", None, "none", "none", (), None),
    (
        "raised to HC while queued",
        prior("patch-day", DEC_PATCH),
        "now",
        "now",
        ("unqueue", "act-now"),
        None,
    ),
    ("raised to HC, was none", prior("none"), "now", "now", ("act-now",), None),
    ("raised to HC, was unknown", prior("unknown"), "now", "now", ("act-now",), None),
    ("now stays now: lowered", prior("now"), "patch-day", "now", (), None),
    ("now stays now: corrected", prior("now"), "none", "now", (), None),
    ("now stays now: again now", prior("now"), "now", "now", (), None),
    ("now stays now: unknown", prior("now"), "unknown", "now", (), None),
    (
        "queued, still queued: keeps its day",
        prior("patch-day", DEC_PATCH),
        "patch-day",
        "patch-day",
        ("update-queue",),
        DEC_PATCH,
    ),
    ("queued, corrected away", prior("patch-day", DEC_PATCH), "none", "none", ("unqueue",), None),
    (
        "queued, inventory lost: stays",
        prior("patch-day", DEC_PATCH),
        "unknown",
        "patch-day",
        (),
        DEC_PATCH,
    ),
    ("none → affected less", prior("none"), "patch-day", "patch-day", ("queue",), NOV_PATCH),
    ("none → none", prior("none"), "none", "none", (), None),
    ("none → unknown", prior("none"), "unknown", "unknown", ("tell-unknown",), None),
    ("unknown → unknown: told once", prior("unknown"), "unknown", "unknown", (), None),
    ("unknown → queued", prior("unknown"), "patch-day", "patch-day", ("queue",), NOV_PATCH),
    ("unknown → none", prior("unknown"), "none", "none", (), None),
]


@pytest.mark.parametrize(
    ("before", "new", "record", "steps", "day"),
    [row[1:] for row in TRANSITIONS],
    ids=[row[0] for row in TRANSITIONS],
)
def test_transition_table(
    before: dc.Prior | None, new: str, record: str, steps: tuple[str, ...], day: datetime | None
) -> None:
    t = dc.transition(before, decision(new))
    assert (t.record, t.steps, t.patch_day) == (record, steps, day)


@pytest.mark.parametrize(
    ("prior_", "fingerprint", "installed", "expected"),
    [
        (None, "fp1", "6.2.3", True),
        (dc.Prior("none", "fp1", "6.2.3"), "fp1", "6.2.3", False),
        (dc.Prior("none", "fp1", "6.2.3"), "fp2", "6.2.3", True),  # revised
        (dc.Prior("none", "fp1", "6.2.3"), "fp1", "6.2.9", True),  # site updated
        (dc.Prior("unknown", "fp1", None), "fp1", None, False),
        (dc.Prior("unknown", "fp1", None), "fp1", "10.3.1", True),  # inventory became known
    ],
)
def test_needs_decision(
    prior_: dc.Prior | None, fingerprint: str, installed: str | None, expected: bool
) -> None:
    assert dc.needs_decision(prior_, fingerprint, installed) is expected


def test_revision_raising_risk_changes_the_fingerprint_and_the_action() -> None:
    before = adv()
    after = replace(before, risk_label="Highly critical", score=20)
    fp1, fp2 = dc.decision_fingerprint([before]), dc.decision_fingerprint([after])
    assert fp1 != fp2
    d1 = dc.decide(before, SITE, inv(webform="6.2.3"), CAL, NOW)
    d2 = dc.decide(after, SITE, inv(webform="6.2.3"), CAL, NOW)
    assert dc.transition(None, d1).steps == ("queue",)
    t = dc.transition(dc.Prior(d1.action, fp1, "6.2.3", d1.patch_day), d2)
    assert t.steps == ("unqueue", "act-now")


def test_same_advisory_in_two_feeds_has_one_fingerprint() -> None:
    a = adv()
    assert dc.decision_fingerprint([a]) == dc.decision_fingerprint([replace(a, title="other")])


def test_effective_records_prefer_rss_and_keep_psa_json_per_project() -> None:
    rss = adv()
    pj1 = replace(
        rss,
        source="psa-json",
        package="drupal/webform",
        affected=None,
        insecure_versions=("6.2.3",),
    )
    pj2 = replace(pj1, package="drupal/webform_ui", guid="x")
    only_pj = replace(pj1, id="SA-CONTRIB-2026-101")
    eff = dc.effective_records([pj1, rss, pj2, only_pj])
    assert eff["SA-CONTRIB-2026-100"] == [rss]
    assert [a.package for a in eff["SA-CONTRIB-2026-101"]] == ["drupal/webform"]
    # several psa.json records of one id: the strongest action over them
    both = dc.effective_records([pj1, pj2])["SA-CONTRIB-2026-100"]
    d = dc.decide(both, SITE, inv(webform_ui="1.0.0", webform="6.2.3"), CAL, NOW)
    assert d.action == "patch-day" and d.match.package == "drupal/webform"


def test_decide_needs_a_record() -> None:
    with pytest.raises(ValueError, match="at least one"):
        dc.decide([], SITE, None, CAL, NOW)


# ---------------------------------------------------------------- fixed versions

FIXED_TABLE = [
    (
        "link on branch",
        "Update to https://www.drupal.org/project/drupal/releases/10.3.9",
        "10.3.8",
        "10.3.9",
    ),
    (
        "two branches: same major",
        "If you use 10.3.x update to 10.3.9. If you use 11.0.x update to 11.0.8.",
        "10.3.1",
        "10.3.9",
    ),
    (
        "two branches: 11",
        "If you use 10.3.x update to 10.3.9. If you use 11.0.x update to 11.0.8.",
        "11.0.2",
        "11.0.8",
    ),
    ("drupal style contrib", "Upgrade to 8.x-1.6", "8.x-1.5", "8.x-1.6"),
    ("still affected release skipped", "Versions 10.3.5 and 10.3.9", "10.3.1", "10.3.9"),
    ("nothing named", "Disable the module.", "10.3.1", None),
    ("only older named", "Drupal 7.x is not affected; 9.5.0 users update", "10.3.1", None),
]


@pytest.mark.parametrize(
    ("solution", "installed", "expected"),
    [row[1:] for row in FIXED_TABLE],
    ids=[row[0] for row in FIXED_TABLE],
)
def test_fixed_version(solution: str, installed: str, expected: str | None) -> None:
    a = core(solution=solution, affected="<1.6.0 || >=8.0.0 <10.3.9 || >=11.0.0 <11.0.8")
    assert mt.fixed_version(a, installed) == expected


def _core_sa(sa_id: str, affected: str, solution: str) -> Advisory:
    return adv(sa_id, kind="core", package="drupal/core", affected=affected, solution=solution)


SA_010 = _core_sa(
    "SA-CORE-2026-010",
    "<10.6.13 || >=11.3.0 <11.3.14 || >=11.4.0 <11.4.4 || 11.0.* || 11.1.* || 11.2.*",
    "Sites on 11.2.x: update to 11.3.0 or later; install Drupal 11.3.14, 11.4.4 or 10.6.13.",
)
SA_013 = _core_sa(
    "SA-CORE-2026-013",
    ">=11.3.0 <11.3.16 || >=11.4.0 <11.4.6",
    "Install 11.3.16 or 11.4.6.",
)
SA_005 = _core_sa(
    "SA-CORE-2026-005",
    "<10.5.12 || >=10.6.0 <10.6.11 || >=11.2.0 <11.2.14 || >=11.3.0 <11.3.12 || 11.0.* || 11.1.*",
    "Update to 11.2.14, 11.3.12, 10.6.11 or 10.5.12.",
)

# (advisory, the other known advisories, installed, the release a notice may name)
TARGETS = [
    (SA_010, [], "11.2.5", "11.3.14"),  # its own >=11.3.0 <11.3.14 rules out 11.3.0
    (SA_005, [], "11.2.5", "11.2.14"),
    (SA_005, [SA_010], "11.2.5", "11.3.14"),  # 11.2.14 is affected by SA-CORE-2026-010
    (SA_010, [SA_013], "11.2.5", "11.3.16"),  # 11.3.14 by a later advisory; its fix named
    (SA_010, [SA_013], "11.4.1", "11.4.6"),
    (SA_005, [SA_010, SA_013], "10.5.3", "10.6.13"),
    (SA_005, [SA_010, SA_013, adv("SA-CONTRIB-2026-1", affected="*")], "11.2.5", "11.3.16"),
    (SA_013, [SA_010], "11.4.5", "11.4.6"),
    (_core_sa("SA-CORE-2026-014", ">=11.0.0", "Update to 11.3.14."), [], "11.2.5", None),
]


@pytest.mark.parametrize(("advisory", "others", "installed", "expected"), TARGETS)
def test_fixed_version_is_one_no_known_advisory_affects(
    advisory: Advisory, others: list[Advisory], installed: str, expected: str | None
) -> None:
    targets = mt.ReleaseTargets.of([advisory, *others])
    assert mt.fixed_version(advisory, installed, targets) == expected


def test_decide_names_a_release_no_known_advisory_affects() -> None:
    known = mt.ReleaseTargets.of([SA_005, SA_010, SA_013])
    d = dc.decide(SA_005, SITE, inv(core="11.2.5"), CAL, NOW, known)
    assert d.match.fixed == "11.3.16"
    assert dc.decide(SA_005, SITE, inv(core="11.2.5"), CAL, NOW).match.fixed == "11.2.14"


# ---------------------------------------------------------------- PSA windows and heads-ups

PUBLISHED = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)


def _w(d: int, h1: int, m1: int, h2: int, m2: int, month: int = 11) -> tuple[datetime, datetime]:
    return (
        datetime(2026, month, d, h1, m1, tzinfo=UTC),
        datetime(2026, month, d, h2, m2, tzinfo=UTC),
    )


WINDOW_TABLE: list[tuple[str, str, tuple[datetime, datetime] | None]] = [
    (
        "drupal.org's phrasing",
        "a security release on November 18, 2026 between 17:00 and 21:00 UTC",
        _w(18, 17, 0, 21, 0),
    ),
    (
        "ordinal and weekday",
        "on Wednesday, November 18th, 2026 between 16:00 and 19:00 UTC.",
        _w(18, 16, 0, 19, 0),
    ),
    ("am/pm", "Wednesday 18th November 2026, 5pm to 9pm UTC", _w(18, 17, 0, 21, 0)),
    ("pm once", "on 18 November 2026 from 5 to 9pm UTC", _w(18, 17, 0, 21, 0)),
    ("ISO date, en dash", "Release window: 2026-11-18 16:00–20:00 UTC", _w(18, 16, 0, 20, 0)),
    (
        "another zone, UTC in brackets",
        "February 20th 2019 between 1PM to 5PM America/New York (1800 to 2200 UTC)",
        (datetime(2019, 2, 20, 18, 0, tzinfo=UTC), datetime(2019, 2, 20, 22, 0, tzinfo=UTC)),
    ),
    ("short month", "on Nov 18, 2026 between 18:00 - 19:30 UTC", _w(18, 18, 0, 19, 30)),
    (
        "date only: drupal.org's window",
        "a highly critical release on Wednesday, 18 November 2026",
        _w(18, 16, 0, 22, 0),
    ),
    (
        "no year: after publication",
        "Upcoming highly critical release on Wednesday, November 18",
        _w(18, 16, 0, 22, 0),
    ),
    (
        "no year, early January",
        "release on January 6",
        (datetime(2027, 1, 6, 16, 0, tzinfo=UTC), datetime(2027, 1, 6, 22, 0, tzinfo=UTC)),
    ),
    (
        "crossing midnight",
        "on November 18, 2026 between 22:00 and 01:00 UTC",
        (datetime(2026, 11, 18, 22, 0, tzinfo=UTC), datetime(2026, 11, 19, 1, 0, tzinfo=UTC)),
    ),
    ("no date at all", "A release is coming soon; watch this space.", None),
    ("impossible date", "on February 30, 2026", None),
]


@pytest.mark.parametrize(
    ("text", "expected"), [row[1:] for row in WINDOW_TABLE], ids=[row[0] for row in WINDOW_TABLE]
)
def test_announced_window(text: str, expected: tuple[datetime, datetime] | None) -> None:
    assert pw.announced_window(text, PUBLISHED) == expected


def psa(
    title: str, window: tuple[datetime, datetime] | None = None, label: str | None = None
) -> Advisory:
    return adv(
        "PSA-2026-11-16",
        kind="psa",
        package=None,
        label=label,
        score=None,
        affected=None,
        title=title,
        window=window,
    )


HEADS_UP_TABLE: list[tuple[str, Advisory, datetime, datetime | None]] = [
    (
        "announced two days ahead: due 2 h before",
        psa("Upcoming highly critical Drupal core release on November 18, 2026 - PSA-2026-11-16"),
        PUBLISHED,
        datetime(2026, 11, 18, 14, 0, tzinfo=UTC),
    ),
    (
        "window parsed by the feed parser",
        psa(
            "Drupal core - Highly critical - Public Service announcement - PSA-2026-11-16",
            _w(18, 17, 0, 21, 0),
            "Highly critical",
        ),
        PUBLISHED,
        datetime(2026, 11, 18, 15, 0, tzinfo=UTC),
    ),
    (
        "seen one hour before: due at once",
        psa("Drupal core - Highly critical - PSA", _w(18, 17, 0, 21, 0), "Highly critical"),
        datetime(2026, 11, 18, 16, 0, tzinfo=UTC),
        datetime(2026, 11, 18, 16, 0, tzinfo=UTC),
    ),
    (
        "seen inside the window: at once",
        psa("Drupal core - Highly critical - PSA", _w(18, 17, 0, 21, 0), "Highly critical"),
        datetime(2026, 11, 18, 18, 0, tzinfo=UTC),
        datetime(2026, 11, 18, 18, 0, tzinfo=UTC),
    ),
    (
        "window over: nothing",
        psa("Drupal core - Highly critical - PSA", _w(18, 17, 0, 21, 0), "Highly critical"),
        datetime(2026, 11, 18, 21, 0, tzinfo=UTC),
        None,
    ),
    ("not highly critical", psa("Drupal 7 end of life on November 18, 2026"), PUBLISHED, None),
    ("highly critical but no date", psa("Highly critical release coming - PSA"), PUBLISHED, None),
]


@pytest.mark.parametrize(
    ("advisory", "now", "due"),
    [row[1:] for row in HEADS_UP_TABLE],
    ids=[row[0] for row in HEADS_UP_TABLE],
)
def test_heads_up(advisory: Advisory, now: datetime, due: datetime | None) -> None:
    hu = pw.heads_up(advisory, now)
    assert (None if hu is None else hu.due) == due
    if hu is not None:
        assert hu.window_start <= hu.window_end
        event = ev.psa_heads_up_event(advisory, hu, now)
        assert event.kind == "psa-heads-up"
        assert event.key.startswith("psa-heads-up|PSA-2026-11-16|")


def test_sa_is_never_a_heads_up_and_psa_windows_feed_polling() -> None:
    assert pw.heads_up(core(), NOW) is None
    hc = psa("Drupal core - Highly critical - PSA", _w(18, 17, 0, 21, 0), "Highly critical")
    assert pw.psa_windows([hc, hc, core()], PUBLISHED) == [_w(18, 17, 0, 21, 0)]
    assert pw.psa_windows([hc], datetime(2026, 11, 19, tzinfo=UTC)) == []


# ---------------------------------------------------------------- events


def test_security_now_event_has_everything_a_ticket_needs() -> None:
    a = core(solution="Update to https://www.drupal.org/project/drupal/releases/10.3.9")
    d = dc.decide(a, SITE, inv(core="10.3.8"), CAL, NOW)
    e = ev.security_now_event(d, a, NOW)
    assert (e.kind, e.client, e.site, e.severity) == (
        "security-now",
        "acme",
        "acme-www",
        "critical",
    )
    assert e.thread == "SA-CORE-2026-030:acme-www"
    assert e.key == "security-now|SA-CORE-2026-030|acme-www"
    for key, value in {
        "advisory": "SA-CORE-2026-030",
        "project": "Drupal core",
        "risk": "Highly critical",
        "score": 20,
        "installed": "10.3.8",
        "constraint": ">=8.0.0 <10.3.9 || >=11.0.0 <11.0.8",
        "fixed": "10.3.9",
        "link": "https://www.drupal.org/sa-core-2026-030",
    }.items():
        assert e.details[key] == value
    assert e == ev.security_now_event(d, a, NOW)  # deterministic


def test_patch_day_event_lists_every_item_once_per_site() -> None:
    items = [
        (SITE, NOV_PATCH, ev.PatchItem("SA-2", "Webform", "6.2.3", None, "https://x/2")),
        (SITE, NOV_PATCH, ev.PatchItem("SA-1", "Admin Toolbar", "3.0.0", "3.0.2", "https://x/1")),
        (
            dc.SiteRef("acme", "acme-shop"),
            NOV_PATCH,
            ev.PatchItem("SA-1", "Admin Toolbar", "3.0.0", "3.0.2", "l"),
        ),
        (SITE, DEC_PATCH, ev.PatchItem("SA-3", "Later", "1.0.0", None, "l")),  # not yet due
    ]
    queues = ev.group_due(items, NOV_PATCH)
    assert [q.site.site for q in queues] == ["acme-shop", "acme-www"]
    e = ev.patch_day_event(queues[1], NOV_PATCH)
    assert e.kind == "patch-day" and e.key == "patch-day|acme-www|2026-11-19"
    assert e.details["items"] == [
        {
            "advisory": "SA-1",
            "project": "Admin Toolbar",
            "installed": "3.0.0",
            "fixed": "3.0.2",
            "link": "https://x/1",
        },
        {
            "advisory": "SA-2",
            "project": "Webform",
            "installed": "6.2.3",
            "fixed": "see advisory",
            "link": "https://x/2",
        },
    ]
    # A daemon down for a month: both months' items in one notice, keyed by the later day.
    late = ev.group_due(items, DEC_PATCH)
    assert [len(q.items) for q in late] == [1, 3] and late[1].patch_day == DEC_PATCH


def test_advisories_match_rows_name_a_release_no_advisory_in_the_feed_affects() -> None:
    from monitord.commands.advisories_match import rows_for

    rows = rows_for([SA_005, SA_010], [(SITE, inv(core="11.2.5"))], CAL, NOW)
    assert {r["advisory"]: r["fixed"] for r in rows} == {
        "SA-CORE-2026-005": "11.3.14",  # not 11.2.14: SA-CORE-2026-010 affects it
        "SA-CORE-2026-010": "11.3.14",
    }
