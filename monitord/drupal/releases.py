"""drupal.org release history: parse it, and say what core's Update module would say.

``updates.drupal.org/release-history/{project}/current`` is XML; :func:`parse_release_history`
reads it with :mod:`defusedxml` (no entity expansion, no external entities) into a frozen
:class:`Project`. :func:`update_status` is a port of core's
``update_calculate_project_update_status()`` (core/modules/update/update.compare.inc, 11.x):

* project status ``insecure`` → NOT_SECURE; ``unpublished``/``revoked`` → REVOKED;
  ``unsupported`` → NOT_SUPPORTED (nothing else is computed, as in core);
* the installed release carries the ``Insecure`` term → NOT_SECURE (a newer security release
  alone does *not* make an installed release insecure);
* the installed release is unpublished → REVOKED; outside ``supported_branches`` or marked
  ``Unsupported`` → NOT_SUPPORTED;
* otherwise UPDATE_AVAILABLE (core's NOT_CURRENT) unless the installed release is the
  recommended or latest one (CURRENT). Security releases newer than the installed one on the
  target major version are listed, as core lists them.

The installed version may be written the drupal.org way (``8.x-1.2``) or the Composer way
(``1.2.0``): releases are matched by their Composer meaning, not by spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from monitord.drupal.versions import parse_version
from monitord.errors import MonitordError, VersionError

__all__ = [
    "RELEASE_HISTORY_MAX_BYTES",
    "Project",
    "Release",
    "ReleaseHistoryError",
    "UpdateState",
    "UpdateStatus",
    "parse_release_history",
    "update_status",
]

RELEASE_HISTORY_MAX_BYTES = 16 * 1024 * 1024
"""Largest release history we parse. drupal/core's, the biggest, is about 2 MB; anything far
larger is not drupal.org and would only cost memory."""

DEV_DATESTAMP_LEEWAY_SECONDS = 100
"""Core's leeway between a dev snapshot's .info.yml datestamp and its tarball's timestamp."""

INSECURE = "Insecure"
SECURITY_UPDATE = "Security update"
UNSUPPORTED = "Unsupported"

_CORE_PREFIX = re.compile(r"^\d+\.x-")


class ReleaseHistoryError(MonitordError):
    """A release-history document is not usable (not XML, hostile XML, an error reply)."""


@dataclass(frozen=True, slots=True)
class Release:
    """One ``<release>`` of a project, as drupal.org writes it."""

    version: str
    tag: str | None
    status: str
    terms: tuple[tuple[str, str], ...]
    date: datetime | None
    release_link: str | None
    security_covered: bool | None = None

    @property
    def types(self) -> tuple[str, ...]:
        """The "Release type" term values: "Security update", "Insecure", "Bug fixes", …"""
        return tuple(value for name, value in self.terms if name == "Release type")

    @property
    def is_insecure(self) -> bool:
        return INSECURE in self.types

    @property
    def is_security_release(self) -> bool:
        return SECURITY_UPDATE in self.types

    @property
    def is_unsupported(self) -> bool:
        return UNSUPPORTED in self.types

    @property
    def is_published(self) -> bool:
        return self.status == "published"

    @property
    def composer_version(self) -> str:
        """The Composer version drupal.org publishes for this release (``8.x-1.2`` → 1.2.0)."""
        return parse_version(self.version).normalized


@dataclass(frozen=True, slots=True)
class Project:
    """A project's release history, releases in drupal.org's order (newest first per branch)."""

    name: str
    title: str
    status: str
    supported_branches: tuple[str, ...]
    releases: tuple[Release, ...]
    link: str | None = None


class UpdateState(StrEnum):
    NOT_SECURE = "not-secure"
    REVOKED = "revoked"
    NOT_SUPPORTED = "not-supported"
    UPDATE_AVAILABLE = "update-available"
    CURRENT = "current"
    NOT_CHECKED = "not-checked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class UpdateStatus:
    """What core's Update module would report for one installed project."""

    state: UpdateState
    installed: str
    recommended: str | None = None
    latest: str | None = None
    security_releases: tuple[Release, ...] = ()
    also_available: tuple[str, ...] = ()
    reason: str = ""

    @property
    def security_update_required(self) -> bool:
        """Core's "Security update required!": the installed release (or project) is insecure."""
        return self.state is UpdateState.NOT_SECURE

    @property
    def security_versions(self) -> tuple[str, ...]:
        return tuple(r.version for r in self.security_releases)


# --------------------------------------------------------------------------- parsing


def _text(parent: Element, tag: str) -> str | None:
    node = parent.find(tag)
    if node is None or node.text is None:
        return None
    return node.text.strip()


def _release(node: Element) -> Release | None:
    version = _text(node, "version")
    if not version:
        return None
    terms: list[tuple[str, str]] = []
    for term in node.findall("terms/term"):
        name, value = _text(term, "name"), _text(term, "value")
        if name is not None and value is not None:
            terms.append((name, value))
    raw_date = _text(node, "date")
    date = None
    if raw_date and raw_date.isdigit():
        date = datetime.fromtimestamp(int(raw_date), tz=UTC)
    security = node.find("security")
    covered: bool | None = None
    if security is not None and security.get("covered") is not None:
        covered = security.get("covered") == "1"
    return Release(
        version=version,
        tag=_text(node, "tag"),
        status=_text(node, "status") or "published",
        terms=tuple(terms),
        date=date,
        release_link=_text(node, "release_link"),
        security_covered=covered,
    )


def parse_release_history(data: bytes | str, *, source: str = "release history") -> Project:
    """Parse one release-history document; :class:`ReleaseHistoryError` when unusable.

    ``source`` (a URL or file name) is only used in error messages.
    """
    size = len(data.encode() if isinstance(data, str) else data)
    if size > RELEASE_HISTORY_MAX_BYTES:
        raise ReleaseHistoryError(
            f"{source}: {size} bytes is more than the {RELEASE_HISTORY_MAX_BYTES} a release "
            "history can be; check the URL points at updates.drupal.org/release-history/…"
        )
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ReleaseHistoryError(
            f"{source}: refused unsafe XML ({type(exc).__name__}); "
            "check the URL points at updates.drupal.org"
        ) from None
    except ParseError as exc:
        raise ReleaseHistoryError(
            f"{source}: not XML ({exc}); check the URL and what the server returned"
        ) from None
    if root.tag == "error":
        raise ReleaseHistoryError(
            f"{source}: drupal.org says: {(root.text or '').strip()} — check the project name"
        )
    if root.tag != "project":
        raise ReleaseHistoryError(
            f"{source}: expected a <project> document, got <{root.tag}>; "
            "check the URL points at updates.drupal.org/release-history/{project}/current"
        )
    branches = tuple(b.strip() for b in (_text(root, "supported_branches") or "").split(","))
    releases = tuple(
        r for r in (_release(n) for n in root.findall("releases/release")) if r is not None
    )
    return Project(
        name=_text(root, "short_name") or "",
        title=_text(root, "title") or "",
        status=_text(root, "project_status") or "published",
        supported_branches=tuple(b for b in branches if b),
        releases=releases,
        link=_text(root, "link"),
    )


# --------------------------------------------------------------------------- update status


@dataclass(frozen=True, slots=True)
class _Ext:
    """core's ExtensionVersion: major version and the "extra" (rc1, beta2, dev)."""

    major: int
    extra: str | None


def _extension_version(version: str) -> _Ext | None:
    rest = version
    if _CORE_PREFIX.match(rest) and rest.split("-", 1)[1] != "dev":
        rest = _CORE_PREFIX.sub("", rest, count=1)
    parts = rest.split(".")
    if len(parts) not in (2, 3) or not parts[0].isdigit():
        return None
    if len(parts) == 3 and not parts[1].isdigit():
        return None
    last = parts[-1].split("-")
    extra = last[1] if len(last) > 1 else None
    if not last[0].isdigit() and last[0] != "x" and extra != "dev":
        return None
    return _Ext(int(parts[0]), extra)


def _strip_core(version: str) -> str:
    return _CORE_PREFIX.sub("", version, count=1)


def _in_branch(version: str, branches: tuple[str, ...]) -> bool:
    plain = _strip_core(version)
    return any(plain.startswith(_strip_core(b)) for b in branches)


def _same_release(installed: str, version: str) -> bool:
    if installed == version:
        return True
    try:
        return parse_version(installed) == parse_version(version)
    except VersionError:
        return False


def _installed_in_branch(installed: str, project: Project) -> bool:
    if _in_branch(installed, project.supported_branches):
        return True
    # An installed version written the Composer way (1.2.0) for a legacy project (8.x-1.2).
    return any(
        _same_release(installed, r.version) and _in_branch(r.version, project.supported_branches)
        for r in project.releases
    )


_PROJECT_VERDICTS: dict[str, tuple[UpdateState, str]] = {
    "insecure": (
        UpdateState.NOT_SECURE,
        "the Drupal security team labelled the project insecure: uninstall it",
    ),
    "unpublished": (
        UpdateState.REVOKED,
        "the project was revoked and is no longer available: uninstall it",
    ),
    "revoked": (
        UpdateState.REVOKED,
        "the project was revoked and is no longer available: uninstall it",
    ),
    "unsupported": (
        UpdateState.NOT_SUPPORTED,
        "the project is no longer supported: uninstall or replace it",
    ),
}
"""A project status that decides the verdict whatever is installed."""


def _existing_version(project: Project, installed: str) -> _Ext | None:
    """The installed version as core reads it; a Composer-style version of a legacy project
    (1.2.0 for 8.x-1.2) is read in its drupal.org spelling."""
    existing = _extension_version(installed)
    if existing is not None:
        return existing
    spelled = next(
        (r.version for r in project.releases if _same_release(installed, r.version)), None
    )
    return None if spelled is None else _extension_version(spelled)


def _target_major(
    project: Project, installed: str, existing: _Ext
) -> tuple[int, UpdateState | None, str]:
    """The major version to recommend on, and NOT_SUPPORTED when the installed branch is not
    among the supported ones (then the first supported branch's major, never a lower one)."""
    branches = project.supported_branches
    if _installed_in_branch(installed, project) or not branches:
        return existing.major, None, ""
    target = existing.major
    for branch in branches:
        ext = _extension_version(branch + "x")
        if ext is not None:
            target = ext.major
            break
    return (
        max(existing.major, target),
        UpdateState.NOT_SUPPORTED,
        "the installed branch is no longer supported: move to a supported branch",
    )


def _installed_release_state(release: Release, supported: bool) -> tuple[UpdateState, str] | None:
    """What the installed release's own flags say, if anything."""
    if release.is_insecure:
        return (
            UpdateState.NOT_SECURE,
            "the installed release is marked insecure: a security update is required",
        )
    if not release.is_published:
        return UpdateState.REVOKED, "the installed release was revoked: upgrade or uninstall"
    if not supported:
        return (
            UpdateState.NOT_SUPPORTED,
            "the installed release is no longer supported: upgrade or uninstall",
        )
    return None


def _not_a_candidate(release: Release, ext: _Ext, supported: bool) -> bool:
    """Releases core never offers: unpublished, unsupported, insecure, or a dev release without
    a date (broken or stub releases)."""
    return (
        not release.is_published
        or not supported
        or release.is_insecure
        or (release.date is None and ext.extra == "dev")
    )


def _newer_than_snapshot(release: Release, datestamp: int | None) -> bool:
    """For a dev snapshot: whether ``release`` is newer than it (and may count as a security
    release to install); unknown without the snapshot's datestamp."""
    if datestamp is None:
        return False
    return release.date is None or datestamp + DEV_DATESTAMP_LEEWAY_SECONDS <= int(
        release.date.timestamp()
    )


@dataclass(slots=True)
class _Scan:
    """What a pass over the release history (newest first) found, as core's loop does."""

    target_major: int
    status: UpdateState | None
    reason: str
    recommended: str | None = None
    latest: str | None = None
    latest_release: Release | None = None
    dev_release: Release | None = None
    also: dict[int, str] = field(default_factory=dict)
    security: list[Release] = field(default_factory=list)
    rec_without_extra: str = ""
    rec_candidate: Release | None = None
    last_supported: bool = False
    """Whether the last release looked at is on a supported branch (core's variable)."""

    def offer(self, release: Release, ext: _Ext, supported: bool) -> bool:
        """Note ``release`` as latest / dev / recommended; False when it is on a higher major
        (only ``also_available``)."""
        if ext.major > self.target_major:
            self.also.setdefault(ext.major, release.version)
            return False
        if ext.major != self.target_major:
            return True
        if self.latest is None:
            self.latest, self.latest_release = release.version, release
        if self.dev_release is None and ext.extra == "dev":
            self.dev_release = release
        if self.recommended is None and supported:
            without_extra = (
                release.version.replace(f"-{ext.extra}", "") if ext.extra else release.version
            )
            if self.rec_without_extra != without_extra:
                self.rec_without_extra, self.rec_candidate = without_extra, release
            if ext.extra is None and self.rec_candidate is not None:
                self.recommended = self.rec_candidate.version
        return True


def _scan(
    project: Project, installed: str, scan: _Scan, *, is_dev: bool, datestamp: int | None
) -> _Scan:
    """core's pass over the releases, newest first, down to the installed one."""
    for release in project.releases:
        ext = _extension_version(release.version)
        if ext is None:
            continue
        supported = (
            _in_branch(release.version, project.supported_branches) and not release.is_unsupported
        )
        scan.last_supported = supported
        is_existing = _same_release(installed, release.version)
        if is_existing:
            own = _installed_release_state(release, supported)
            if own is not None:
                scan.status, scan.reason = own
        elif _not_a_candidate(release, ext, supported):
            continue
        if not scan.offer(release, ext, supported):
            continue
        if is_existing:
            break
        if is_dev and not _newer_than_snapshot(release, datestamp):
            continue
        if release.is_security_release:
            scan.security.append(release)
    if scan.recommended is None and scan.latest is not None and scan.last_supported:
        scan.recommended = scan.latest
    return scan


def _dev_verdict(scan: _Scan, datestamp: int | None) -> tuple[UpdateState, str, bool]:
    """A dev snapshot against the newest of the target branch's latest and dev releases:
    (state, reason, whether the security releases are listed)."""
    latest_dev = scan.latest_release
    dev, latest = scan.dev_release, scan.latest_release
    if (
        dev is not None
        and latest is not None
        and dev.date is not None
        and latest.date is not None
        and dev.date > latest.date
    ):
        latest_dev = dev
    if datestamp is None:
        return UpdateState.NOT_CHECKED, "unknown release date", True
    latest_date = latest_dev.date if latest_dev is not None else None
    if latest_date is None or datestamp + DEV_DATESTAMP_LEEWAY_SECONDS > int(
        latest_date.timestamp()
    ):
        return UpdateState.CURRENT, "up to date", False
    return UpdateState.UPDATE_AVAILABLE, "a newer release exists", True


def _verdict(
    scan: _Scan, installed: str, *, is_dev: bool, datestamp: int | None
) -> tuple[UpdateState, str, bool]:
    """The state, its reason, and whether the security releases are listed with it."""
    if scan.status is not None:
        return scan.status, scan.reason, True
    if scan.recommended is None:
        return UpdateState.UNKNOWN, "no available releases found", True
    if is_dev:
        return _dev_verdict(scan, datestamp)
    if _same_release(installed, scan.recommended) or (
        scan.latest is not None and _same_release(installed, scan.latest)
    ):
        return UpdateState.CURRENT, "up to date", False
    why = (
        "update available (not a security requirement: the installed release is not marked "
        "insecure, though newer releases carry security fixes)"
        if scan.security
        else "update available (not a security requirement)"
    )
    return UpdateState.UPDATE_AVAILABLE, why, True


def update_status(
    project: Project, installed: str, *, datestamp: int | None = None
) -> UpdateStatus:
    """Core's verdict for ``installed`` against ``project``'s release history.

    ``datestamp`` is the .info.yml datestamp of a dev snapshot (``1.x-dev``); without it a dev
    snapshot is NOT_CHECKED, as in core.
    """
    installed = installed.strip()
    decided = _PROJECT_VERDICTS.get(project.status)
    if decided is not None:
        return UpdateStatus(decided[0], installed, reason=decided[1])
    if not installed:
        return UpdateStatus(UpdateState.UNKNOWN, installed, reason="empty version")
    existing = _existing_version(project, installed)
    if existing is None:
        return UpdateStatus(UpdateState.UNKNOWN, installed, reason=f"invalid version: {installed}")
    target, status, reason = _target_major(project, installed, existing)
    if not project.releases:
        return UpdateStatus(UpdateState.UNKNOWN, installed, reason="no available releases found")
    is_dev = installed.endswith("-dev")
    scan = _scan(
        project, installed, _Scan(target, status, reason), is_dev=is_dev, datestamp=datestamp
    )
    state, why, with_security = _verdict(scan, installed, is_dev=is_dev, datestamp=datestamp)
    return UpdateStatus(
        state,
        installed,
        recommended=scan.recommended,
        latest=scan.latest,
        security_releases=tuple(scan.security) if with_security else (),
        also_available=tuple(scan.also[m] for m in sorted(scan.also)),
        reason=why,
    )
