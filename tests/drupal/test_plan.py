"""plan.plan_round: one advisory round as data — what to store, tell now, tell later. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from monitord.drupal import decide as dc
from monitord.drupal import plan
from monitord.drupal.advisory import Advisory
from monitord.drupal.packages import Inventory
from tests.drupal.test_decide import CAL, NOV_PATCH, NOW, SITE, UNKNOWN, adv, core, inv, psa

OTHER = dc.SiteRef("acme", "acme-shop", "ACME Charity", "shop.acme.example")
WEBFORM = adv()  # moderately critical, <6.2.9
WEBFORM_KEY = ("acme-www", "SA-CONTRIB-2026-100")
WINDOW = (
    datetime(2026, 11, 18, 17, 0, tzinfo=UTC),
    datetime(2026, 11, 18, 21, 0, tzinfo=UTC),
)
HC_PSA = psa("Drupal core - Highly critical - PSA", WINDOW, "Highly critical")


def decided(
    a: Advisory, action: dc.Action, installed: str | None, day: datetime | None
) -> plan.Decided:
    return plan.Decided(
        advisory=a.id,
        site=SITE.site,
        client=SITE.client,
        fingerprint=dc.decision_fingerprint([a]),
        installed=installed,
        decision=action,
        patch_day=day,
        reason="before",
        decided_at=NOW - timedelta(days=1),
    )


def queued(
    site: str = "acme-www", day: datetime = NOV_PATCH, ticketed: bool = False
) -> plan.Queued:
    return plan.Queued(
        site=site,
        advisory=WEBFORM.id,
        client="acme",
        project="Webform",
        installed="6.2.3",
        fixed="6.2.9",
        link=WEBFORM.link,
        patch_day=day,
        queued_at=NOW - timedelta(days=1),
        ticketed_at=NOW if ticketed else None,
    )


@dataclass
class Case:
    name: str
    advisories: list[Advisory]
    inventory: Inventory | None = None
    """SITE's inventory; None: no inventories read this round."""
    decisions: dict[plan.PairKey, plan.Decided] = field(default_factory=dict)
    queue: dict[plan.QueueKey, plan.Queued] = field(default_factory=dict)
    changed: list[Advisory] = field(default_factory=list)
    now: datetime = NOW
    # expected
    records: list[tuple[str, str]] = field(default_factory=list)
    """(advisory, recorded action) of each decision stored."""
    events: list[tuple[str, datetime]] = field(default_factory=list)
    """(kind, due) of each planned event."""
    added: list[plan.QueueKey] = field(default_factory=list)
    removed: list[plan.QueueKey] = field(default_factory=list)
    ticketed: list[plan.QueueKey] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


CASES = [
    Case("nothing known", [], inv(core="10.3.8")),
    Case(
        "highly critical, affected: act now, nothing queued",
        [core()],
        inv(core="10.3.8"),
        records=[("SA-CORE-2026-030", "now")],
        events=[("security-now", NOW)],
    ),
    Case(
        "moderately critical, affected: queued for patch day, nothing told now",
        [WEBFORM],
        inv(webform="6.2.3"),
        records=[(WEBFORM.id, "patch-day")],
        added=[WEBFORM_KEY],
    ),
    Case(
        "not installed on a known inventory: nothing decided or stored",
        [WEBFORM],
        inv(core="10.3.8"),
    ),
    Case(
        "core advisory, inventory unknown: the agency is told to check by hand",
        [core()],
        UNKNOWN,
        records=[("SA-CORE-2026-030", "unknown")],
        events=[("security-unknown", NOW)],
    ),
    Case(
        "decided before on the same facts: nothing",
        [WEBFORM],
        inv(webform="6.2.3"),
        decisions={(WEBFORM.id, "acme-www"): decided(WEBFORM, "patch-day", "6.2.3", NOV_PATCH)},
        queue={WEBFORM_KEY: queued()},
    ),
    Case(
        "revised to highly critical while queued: unqueued and acted on now",
        [adv(label="Highly critical", score=20)],
        inv(webform="6.2.3"),
        decisions={(WEBFORM.id, "acme-www"): decided(WEBFORM, "patch-day", "6.2.3", NOV_PATCH)},
        queue={WEBFORM_KEY: queued()},
        records=[(WEBFORM.id, "now")],
        events=[("security-now", NOW)],
        removed=[WEBFORM_KEY],
    ),
    Case(
        "the site was updated: its queued item is removed",
        [WEBFORM],
        inv(webform="6.2.9"),
        decisions={(WEBFORM.id, "acme-www"): decided(WEBFORM, "patch-day", "6.2.3", NOV_PATCH)},
        queue={WEBFORM_KEY: queued()},
        records=[(WEBFORM.id, "none")],
        removed=[WEBFORM_KEY],
    ),
    Case(
        "patch day has come: one patch-day event, the item ticketed",
        [WEBFORM],
        None,
        queue={WEBFORM_KEY: queued()},
        now=NOV_PATCH,
        events=[("patch-day", NOV_PATCH)],
        ticketed=[WEBFORM_KEY],
    ),
    Case(
        "patch day not yet: nothing",
        [WEBFORM],
        None,
        queue={WEBFORM_KEY: queued()},
        now=NOV_PATCH - timedelta(minutes=1),
    ),
    Case(
        "an item already ticketed is not ticketed again",
        [WEBFORM],
        None,
        queue={WEBFORM_KEY: queued(ticketed=True)},
        now=NOV_PATCH,
    ),
    Case(
        "a due item of a site no longer configured is dropped",
        [WEBFORM],
        None,
        queue={("gone-www", WEBFORM.id): queued(site="gone-www")},
        now=NOV_PATCH,
        removed=[("gone-www", WEBFORM.id)],
        dropped=["gone-www"],
    ),
    Case(
        "a new highly critical PSA: heads-up two hours before, its end at the window's end",
        [HC_PSA],
        None,
        changed=[HC_PSA],
        events=[
            ("psa-heads-up", WINDOW[0] - timedelta(hours=2)),
            ("psa-heads-up", WINDOW[1]),
        ],
    ),
    Case("a PSA seen before: no heads-up again", [HC_PSA], None),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_plan_round(case: Case) -> None:
    inventories = [] if case.inventory is None else [(SITE, case.inventory)]
    before_queue = dict(case.queue)
    got = plan.plan_round(
        case.advisories,
        inventories,
        case.decisions,
        case.queue,
        CAL,
        case.now,
        changed=case.changed,
        sites=[SITE, OTHER],
    )
    assert [(d.advisory, d.decision) for d in got.decisions] == case.records
    assert [(p.event.kind, p.due) for p in got.events] == case.events
    assert sorted(got.queue_add) == case.added
    assert sorted(got.queue_remove) == case.removed
    assert got.ticketed == case.ticketed
    assert got.dropped == case.dropped
    assert case.queue == before_queue  # the inputs are not changed


def test_a_queued_item_keeps_its_day_and_first_queued_time_when_refreshed() -> None:
    revised = adv(affected="<6.2.10")  # still moderately critical, still affected
    day = NOV_PATCH - timedelta(days=28)
    got = plan.plan_round(
        [revised],
        [(SITE, inv(webform="6.2.3"))],
        {(WEBFORM.id, "acme-www"): decided(WEBFORM, "patch-day", "6.2.3", day)},
        {WEBFORM_KEY: queued(day=day)},
        CAL,
        day - timedelta(days=1),
    )
    (row,) = got.queue_add.values()
    assert (row.patch_day, row.queued_at) == (day, NOW - timedelta(days=1))
    assert got.decisions[0].patch_day == day


def test_the_resolving_follow_up_is_on_the_heads_up_thread() -> None:
    got = plan.plan_round([HC_PSA], [], {}, {}, CAL, NOW, changed=[HC_PSA])
    heads_up, over = (p.event for p in got.events)
    assert over.thread == heads_up.thread == HC_PSA.id
    assert over.details["resolves"] is True and "resolves" not in heads_up.details
    assert over.key != heads_up.key


def test_security_events_carry_the_sites_display_url() -> None:
    site = dc.SiteRef("acme", "acme-www", url="https://deploy:***@www.acme.example/")
    got = plan.plan_round([core()], [(site, inv(core="10.3.8"))], {}, {}, CAL, NOW)
    (planned,) = got.events
    assert planned.event.details["url"] == "https://deploy:***@www.acme.example/"
