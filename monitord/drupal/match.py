"""Is a site affected by an advisory, and why — pure.

:func:`match` compares the inventory's installed version of the advisory's package with the
affected versions drupal.org wrote (or psa.json's insecure list). ``affected`` is None when it
cannot be told (no inventory, an unparseable version): a person must check by hand.
:class:`ReleaseTargets` finds the release to move to: one that NO known advisory for the
package affects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from monitord.drupal.advisory import Advisory
from monitord.drupal.packages import Inventory
from monitord.drupal.versions import parse_constraint, parse_version
from monitord.errors import VersionError

UNKNOWN_INVENTORY = "inventory unknown — check by hand"


@dataclass(frozen=True, slots=True)
class Match:
    """Whether a site is affected by an advisory, and why."""

    affected: bool | None
    """None: cannot tell (no inventory, unparseable version or constraint) — check by hand."""
    reason: str
    package: str | None = None
    installed: str | None = None
    """The version installed, as the inventory wrote it."""
    constraint: str | None = None
    """The affected versions as drupal.org wrote them (or psa.json's insecure list, joined)."""
    fixed: str | None = None
    """A release to move to, when the advisory names one on the installed branch."""


def _same_version(a: str, b: str) -> bool:
    try:
        return parse_version(a) == parse_version(b)
    except VersionError:
        return a.strip() == b.strip()


_RELEASE_LINK = re.compile(r"/releases/([0-9][0-9A-Za-z.\-x]*)")
_VERSION_WORD = re.compile(
    r"(?<![\w.])(\d+\.x-\d+\.\d+(?:-[A-Za-z]+\d*)?|\d+\.\d+(?:\.\d+)?)(?!\w|\.\w)"
)


def _affects_release(advisory: Advisory, raw: str, v: Any) -> bool:
    """Whether ``advisory`` affects the release ``raw`` (parsed: ``v``); an unreadable
    constraint counts as not saying so (the advisory is then matched by hand anyway)."""
    if advisory.affected:
        try:
            if parse_constraint(advisory.affected).matches(v):
                return True
        except VersionError:
            pass
    return any(_same_version(raw, i) for i in advisory.insecure_versions)


def _named_releases(advisory: Advisory) -> dict[str, Any]:
    """The releases ``advisory``'s solution names (text and link): raw -> parsed, no branches."""
    text = " ".join(p for p in (advisory.solution, advisory.solution_link) if p)
    out: dict[str, Any] = {}
    for raw in [*_RELEASE_LINK.findall(text), *_VERSION_WORD.findall(text)]:
        try:
            v = parse_version(raw)
        except VersionError:
            continue
        if not v.is_branch:
            out.setdefault(raw, v)
    return out


@dataclass(frozen=True, slots=True)
class ReleaseTargets:
    """Per package, the releases the advisories' solutions name that NONE of the advisories
    for that package affects, lowest first. Built once per round (:meth:`of`), so matching
    many sites costs a short scan each, not a pass over every advisory."""

    safe: Mapping[str, tuple[tuple[Any, str], ...]]

    @classmethod
    def of(cls, advisories: Iterable[Advisory]) -> ReleaseTargets:
        pools: dict[str, list[Advisory]] = {}
        for a in advisories:
            if a.package is not None and a.kind != "psa":
                pools.setdefault(a.package, []).append(a)
        safe: dict[str, tuple[tuple[Any, str], ...]] = {}
        for package, pool in pools.items():
            named: dict[str, Any] = {}
            for a in pool:
                for raw, v in _named_releases(a).items():
                    named.setdefault(raw, v)
            ok = [
                (v, raw)
                for raw, v in named.items()
                if not any(_affects_release(a, raw, v) for a in pool)
            ]
            safe[package] = tuple(sorted(ok, key=lambda pair: pair[0]))
        return cls(safe)

    def lowest_above(self, advisory: Advisory, have: Any) -> str | None:
        """The lowest safe release above ``have`` for ``advisory``'s package (on the installed
        major line when it has one), never one ``advisory`` itself affects."""
        first_any: str | None = None
        for v, raw in self.safe.get(advisory.package or "", ()):
            if not v > have or _affects_release(advisory, raw, v):
                continue
            if v.release[0] == have.release[0]:
                return raw
            if first_any is None:
                first_any = raw
        return first_any


def fixed_version(
    advisory: Advisory, installed: str, targets: ReleaseTargets | None = None
) -> str | None:
    """The lowest release above ``installed`` that the advisories name and that NONE of them
    affects, preferring the installed major line; None when none is named.

    ``targets`` is built from every known advisory (:meth:`ReleaseTargets.of`): a release this
    advisory's solution names may be affected by another advisory for the package (a later
    one, or an overlapping range), and a notice must never send a site to a release known to
    be vulnerable. Their solutions name candidates too. Without it, only this advisory counts.
    """
    try:
        have = parse_version(installed)
        if advisory.affected:
            parse_constraint(advisory.affected)
    except VersionError:
        return None
    if targets is None or advisory.package not in targets.safe:
        targets = ReleaseTargets.of([advisory])
    return targets.lowest_above(advisory, have)


def match(
    advisory: Advisory, inventory: Inventory | None, targets: ReleaseTargets | None = None
) -> Match:
    """Whether the site with ``inventory`` (None: none configured) is affected, and why.

    ``targets``: from every known advisory, so the release to move to is one none affects."""
    if advisory.kind == "psa":
        return Match(False, "a PSA is an announcement, not matched against versions")
    package = advisory.package
    if package is None:
        return Match(
            None,
            "the advisory names no Composer package (no project machine name); check by hand",
        )
    installed = None if inventory is None else inventory.packages.get(package)
    if installed is None:
        if inventory is None or not inventory.known:
            if advisory.kind == "core":
                return Match(None, UNKNOWN_INVENTORY, package=package)
            return Match(
                False,
                f"{package} cannot be checked: inventory unknown (only core advisories are "
                "reported for such sites)",
                package=package,
            )
        return Match(False, f"{package} is not installed", package=package)
    if advisory.affected:
        try:
            hit = parse_constraint(advisory.affected).matches(installed)
        except VersionError as exc:
            return Match(
                None,
                f"cannot compare {package} {installed} with {advisory.affected!r}: {exc}; "
                "check by hand",
                package=package,
                installed=installed,
                constraint=advisory.affected,
            )
        verb = "is in" if hit else "is not in"
        return Match(
            hit,
            f"{package} {installed} {verb} the affected versions {advisory.affected}",
            package=package,
            installed=installed,
            constraint=advisory.affected,
            fixed=fixed_version(advisory, installed, targets) if hit else None,
        )
    if advisory.insecure_versions:
        listed = ", ".join(advisory.insecure_versions)
        hit = any(_same_version(installed, v) for v in advisory.insecure_versions)
        verb = "is" if hit else "is not"
        return Match(
            hit,
            f"{package} {installed} {verb} among the insecure releases {listed}",
            package=package,
            installed=installed,
            constraint=listed,
        )
    return Match(
        None,
        f"the advisory states no affected versions for {package} {installed}; check by hand",
        package=package,
        installed=installed,
    )
