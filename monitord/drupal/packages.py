"""A site's Drupal packages as data, and the readers of composer and drush JSON — pure.

:class:`Inventory` is what deciding needs to know about a site; the parsers here turn a parsed
composer.lock, ``composer show --format=json`` or ``drush pm:list --format=json`` into
``drupal/*`` Composer names and versions. Nothing here starts a process or opens a file:
:mod:`monitord.drupal.inventory` reads the sources and hands their bytes here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CORE_PACKAGE = "drupal/core"
CORE_ALIASES = frozenset({"drupal/core", "drupal/core-recommended", "drupal/drupal"})
"""Composer names that carry core's version (``core-recommended`` is a metapackage pinned to
the same release; ``drupal/drupal`` is the legacy root package). Other ``drupal/core-*``
packages (composer-scaffold, project-message, dev) are tooling, not core, and are skipped."""

CORE_TOOLING = frozenset(
    {"drupal/core-composer-scaffold", "drupal/core-project-message", "drupal/core-dev"}
)


@dataclass(slots=True)
class Inventory:
    """A site's Drupal packages. ``known`` False means: check this site by hand."""

    packages: dict[str, str]
    """Composer name -> version as written (``drupal/core: 10.3.1``, ``drupal/ctools: 8.x-3.1``)."""
    source: str
    """Where it came from: ``composer.lock /srv/x/composer.lock``, ``drush``, ``modules`` …"""
    known: bool
    errors: list[str] = field(default_factory=list)
    normalized: dict[str, str] = field(default_factory=dict)
    """Composer name -> normalized Composer version, for every version versions.py understood."""

    @property
    def core_version(self) -> str | None:
        return self.packages.get(CORE_PACKAGE)


def composer_name(name: str) -> str | None:
    """A package or module name -> the ``drupal/*`` Composer name it belongs to, or None.

    ``drupal/core-recommended`` -> ``drupal/core``; bare ``webform`` -> ``drupal/webform``;
    ``drupal`` or ``core`` -> ``drupal/core``; ``symfony/console`` -> None.
    """
    n = name.strip().lower()
    if not n:
        return None
    if "/" not in n:
        return CORE_PACKAGE if n in ("drupal", "core") else f"drupal/{n}"
    if not n.startswith("drupal/"):
        return None
    if n in CORE_ALIASES:
        return CORE_PACKAGE
    if n in CORE_TOOLING:
        return None
    return n


def _put(packages: dict[str, str], name: str, version: str, *, core_alias: bool) -> None:
    """Record a version; the real ``drupal/core`` entry beats an alias such as core-recommended."""
    if core_alias and name in packages:
        return
    packages[name] = version


def _put_entry(packages: dict[str, str], entry: object, *, first_word: bool = False) -> None:
    """Record one ``{"name", "version"}`` entry of a Composer listing when it is a ``drupal/*``
    package with a version; others are skipped. ``first_word``: the version up to its first
    space (``composer show`` may write more after it)."""
    if not isinstance(entry, dict):
        return
    raw_name = str(entry.get("name") or "")
    name = composer_name(raw_name) if "/" in raw_name else None
    version = entry.get("version")
    if name is None or not isinstance(version, str) or not version:
        return
    if first_word:
        version = version.split(" ", 1)[0]
    _put(packages, name, version, core_alias=raw_name.lower() != CORE_PACKAGE)


# ------------------------------------------------------------------ parsers (pure)


def packages_from_lock(data: Any) -> dict[str, str]:
    """``drupal/*`` packages of a parsed composer.lock (``packages`` and ``packages-dev``)."""
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object with 'packages'")
    if "packages" not in data:
        raise ValueError("it has no 'packages' list; is it really a composer.lock?")
    out: dict[str, str] = {}
    for section in ("packages", "packages-dev"):
        entries = data.get(section) or []
        if not isinstance(entries, list):
            raise ValueError(f"'{section}' is not a list")
        for entry in entries:
            _put_entry(out, entry)
    return out


def packages_from_composer_show(data: Mapping[str, Any]) -> dict[str, str]:
    """``composer show --format=json``: ``{"installed": [{"name", "version", …}, …]}``."""
    installed = data.get("installed")
    if not isinstance(installed, list):
        raise ValueError("'installed' is not a list")
    out: dict[str, str] = {}
    for entry in installed:
        _put_entry(out, entry, first_word=True)
    return out


def _core_evidence(info: Mapping[str, Any]) -> int:
    """2: certainly core (project drupal, path core/…); 1: package "Core…" only; 0: not core."""
    path = str(info.get("path") or "")
    project = str(info.get("project") or "")
    if project == "drupal" or path.startswith("core/"):
        return 2
    if project or path:
        return 0
    return 1 if str(info.get("package") or "").lower().startswith("core") else 0


def packages_from_drush(data: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """``drush pm:list --format=json``: ``{machine_name: {version, status, package, project?}}``.

    Core modules and themes become ``drupal/core``; others ``drupal/<project or machine>``.
    With drush's default fields only ``package`` hints at core, and a few contrib modules also
    say ``package: Core``; core's version is the one most core-package extensions share, and
    an extension with another version counts as contrib under its own name.
    Disabled extensions count too: their code is on disk, and drupal.org's advisories concern
    the code. Extensions without a version (custom code, git checkouts) are skipped.
    """
    out: dict[str, str] = {}
    notes: list[str] = []
    sure: list[str] = []
    maybe: dict[str, str] = {}
    rest: dict[str, tuple[str, str]] = {}
    for machine, info in data.items():
        if not isinstance(info, dict):
            raise ValueError(f"entry {machine!r} is not an object with a 'version'")
        version = info.get("version")
        if not isinstance(version, str) or not version.strip():
            continue  # custom module or a checkout without version info
        evidence = _core_evidence(info)
        if evidence == 2:
            sure.append(version.strip())
        elif evidence == 1:
            maybe[machine] = version.strip()
        else:
            rest[machine] = (str(info.get("project") or machine), version.strip())
    votes = sure or list(maybe.values())
    core = max(set(votes), key=votes.count) if votes else None
    if core is not None:
        out[CORE_PACKAGE] = core
    for machine, version in maybe.items():
        if version != core:
            rest[machine] = (machine, version)
    for machine, (project, version) in rest.items():
        name = composer_name(project)
        if name is None or name == CORE_PACKAGE:
            notes.append(f"drush entry {machine!r} has an unusable project {project!r}; skipped")
            continue
        out.setdefault(name, version)
    return out, notes


def packages_from_command_output(stdout: bytes) -> tuple[dict[str, str], str, list[str]]:
    """Tell drush from composer JSON and read it: (packages, "drush"|"composer show", notes)."""
    try:
        data = json.loads(stdout)
    except RecursionError:
        raise ValueError(json_depth_error("its output")) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"its output is not JSON ({exc})") from exc
    if isinstance(data, dict) and "installed" in data:
        return packages_from_composer_show(data), "composer show", []
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        if data and not any("version" in v for v in data.values()):
            raise ValueError(
                "its JSON has neither 'installed' (composer show) nor 'version' per extension "
                "(drush pm:list); use `drush pm:list --format=json` or "
                "`composer show --format=json`"
            )
        pkgs, notes = packages_from_drush(data)
        return pkgs, "drush pm:list", notes
    if isinstance(data, list) and not data:
        # drush prints [] when there is nothing to list.
        return {}, "drush pm:list", []
    raise ValueError(
        "its JSON is not the output of `drush pm:list --format=json` or "
        "`composer show --format=json`"
    )


def json_depth_error(what: str) -> str:
    return (
        f"{what} nests JSON deeper than Python's reader allows ({sys.getrecursionlimit()} "
        "levels; a real one is 4 deep), so it is broken or hostile"
    )
