"""What a Drupal site runs: its ``drupal/*`` Composer packages and their versions.

A site's ``drupal:`` config may give any of a ``composer_lock`` path, hand-declared ``modules``,
or a ``command`` whose stdout is the JSON of ``drush pm:list --format=json`` or
``composer show --format=json``. :func:`load_inventory` reads every one given and merges them
(lock, then command, then hand-declared entries, which win). It never raises for a bad source:
a missing, huge, hostile or broken lock, a failing or slow command, garbage output, or JSON of
the wrong shape or depth gives ``known=False`` with an error that names the file or command,
says what is wrong and what to do, and the site is then treated as "inventory unknown — check
by hand". Any other exception while reading one source is contained the same way, so one
site's inventory can never stop the advisories of another.

Versions are kept as written (``10.3.1``, ``8.x-1.5``, ``dev-1.x``); ``normalized`` holds the
Composer form from :func:`monitord.drupal.versions.normalize_drupal_version` when that module
is available and understands the string.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import shlex
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitord.config.models import DrupalSite

CORE_PACKAGE = "drupal/core"
CORE_ALIASES = frozenset({"drupal/core", "drupal/core-recommended", "drupal/drupal"})
"""Composer names that carry core's version (``core-recommended`` is a metapackage pinned to
the same release; ``drupal/drupal`` is the legacy root package). Other ``drupal/core-*``
packages (composer-scaffold, project-message, dev) are tooling, not core, and are skipped."""

CORE_TOOLING = frozenset(
    {"drupal/core-composer-scaffold", "drupal/core-project-message", "drupal/core-dev"}
)

INVENTORY_OUTPUT_MAX_BYTES = 8 * 1024 * 1024
"""Bytes of a command's stdout read at most: drush pm:list for a site with 500 modules is about
200 KB, so this only stops a runaway command from exhausting memory (parsed JSON can take ~20×
its size)."""

STDERR_SHOWN_CHARS = 300
"""How much of a failing command's stderr an error quotes: enough to see why, no more."""

LOCK_MAX_BYTES = 8 * 1024 * 1024
"""A composer.lock larger than this is refused unread: real ones are 0.2–2 MB, and parsed JSON
can take ~20× its size in memory, so a huge one could exhaust the monitoring host's memory."""

ERROR_DETAIL_CHARS = 200
"""How much of an unexpected exception's text an inventory error quotes."""

KILL_GRACE_SECONDS = 5.0
"""After killing a timed-out command, how long to wait for it to be reaped."""


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
        raise ValueError(_json_depth_error("its output")) from None
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


# ------------------------------------------------------------------ sources (I/O)


def _json_depth_error(what: str) -> str:
    return (
        f"{what} nests JSON deeper than Python's reader allows ({sys.getrecursionlimit()} "
        "levels; a real one is 4 deep), so it is broken or hostile"
    )


def _read_lock(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise ValueError(f"{path} does not exist; fix drupal.composer_lock or deploy the file")
    try:
        with path.open("rb") as f:
            raw = f.read(LOCK_MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"{path} cannot be read ({exc.strerror}); check its permissions") from exc
    if len(raw) > LOCK_MAX_BYTES:
        raise ValueError(
            f"{path} is larger than {LOCK_MAX_BYTES} bytes (LOCK_MAX_BYTES), far beyond a real "
            "composer.lock; point drupal.composer_lock at the site's composer.lock"
        )
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValueError(
            _json_depth_error(str(path)) + "; regenerate it with `composer update --lock`"
        ) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{path} is not valid JSON ({exc}); regenerate it with composer") from exc
    try:
        return packages_from_lock(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


async def _read_capped(stream: asyncio.StreamReader | None, cap: int) -> tuple[bytes, bool]:
    """Read a stream to EOF, keeping at most ``cap`` bytes; (data, overflowed)."""
    if stream is None:
        return b"", False
    chunks: list[bytes] = []
    size = 0
    overflow = False
    while chunk := await stream.read(65536):
        if size < cap:
            chunks.append(chunk[: cap - size])
        size += len(chunk)
        overflow = overflow or size > cap
    return b"".join(chunks), overflow


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


async def run_inventory_command(
    command: str, time_limit: float, cwd: Path
) -> tuple[dict[str, str], str, list[str]]:
    """Run ``command`` (shlex-split, no shell) and read its JSON. Raises ValueError on failure.

    The command runs in its own process group, so on timeout it and anything it started
    (``ssh``, ``php``) are killed together.
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"drupal.command cannot be split into words ({exc})") from exc
    if not argv:
        raise ValueError("drupal.command is empty")
    prog = Path(argv[0]).name
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        raise ValueError(
            f"drupal.command {prog!r} cannot be started ({exc.strerror or exc}); "
            "check the program name and PATH"
        ) from exc
    gather = asyncio.gather(
        _read_capped(proc.stdout, INVENTORY_OUTPUT_MAX_BYTES),
        _read_capped(proc.stderr, STDERR_SHOWN_CHARS * 4),
        proc.wait(),
    )
    try:
        async with asyncio.timeout(time_limit):
            (out, overflow), (err, _), code = await gather
    except TimeoutError:
        _kill_group(proc)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(KILL_GRACE_SECONDS):
                await proc.wait()
        raise ValueError(
            f"drupal.command {prog!r} did not finish within {time_limit:g}s and was killed; "
            "raise drupal.command_timeout or make the command faster"
        ) from None
    if code != 0:
        tail = " ".join(err.decode("utf-8", "replace").split())[-STDERR_SHOWN_CHARS:]
        raise ValueError(
            f"drupal.command {prog!r} exited with status {code}"
            + (f": {tail}" if tail else "")
            + "; run it by hand to see why"
        )
    if overflow:
        raise ValueError(
            f"drupal.command {prog!r} printed more than {INVENTORY_OUTPUT_MAX_BYTES} bytes; "
            "is it really drush pm:list or composer show with --format=json?"
        )
    try:
        return packages_from_command_output(out)
    except ValueError as exc:
        raise ValueError(f"drupal.command {prog!r}: {exc}") from exc


def _normalizer() -> Callable[[str], object] | None:
    try:
        versions = importlib.import_module("monitord.drupal.versions")
    except ModuleNotFoundError as exc:
        if exc.name != "monitord.drupal.versions":
            raise
        return None
    fn = getattr(versions, "normalize_drupal_version", None)
    return fn if callable(fn) else None


def _unexpected(exc: BaseException) -> str:
    """An unexpected exception as an inventory error: what it was, and what to do."""
    if isinstance(exc, MemoryError):
        what = "it needs more memory than the host has"
    elif isinstance(exc, RecursionError):
        what = "it nests too deeply to read"
    else:
        text = " ".join(str(exc).split())[:ERROR_DETAIL_CHARS]
        what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"{what}; check the file or command by hand, and report it if it looks right"


async def load_inventory(site: DrupalSite, config_dir: Path) -> Inventory:
    """Read every inventory source the site declares and merge them. Never raises for bad input.

    ``known`` is True only when at least one source is configured and every configured source
    was read. A relative ``composer_lock`` path and the command's working directory are the
    configuration directory.
    """
    packages: dict[str, str] = {}
    sources: list[str] = []
    errors: list[str] = []
    failed = False

    if site.composer_lock is not None:
        path = site.composer_lock
        if not path.is_absolute():
            path = config_dir / path
        sources.append(f"composer.lock {path}")
        try:
            lock_packages = await asyncio.to_thread(_read_lock, path)
        except ValueError as exc:
            errors.append(f"composer.lock: {exc}")
            failed = True
        except Exception as exc:  # one site's file must not stop the others
            errors.append(f"composer.lock: {path} could not be read: {_unexpected(exc)}")
            failed = True
        else:
            if not lock_packages:
                errors.append(
                    f"composer.lock: {path} lists no drupal/* packages; is it the site's?"
                )
                failed = True
            packages.update(lock_packages)

    if site.command is not None:
        try:
            cmd_packages, kind, notes = await run_inventory_command(
                site.command, site.command_timeout.total_seconds(), config_dir
            )
        except ValueError as exc:
            sources.append("command")
            errors.append(str(exc))
            failed = True
        except Exception as exc:  # one site's command must not stop the others
            sources.append("command")
            errors.append(f"drupal.command could not be read: {_unexpected(exc)}")
            failed = True
        else:
            sources.append(f"command ({kind})")
            errors.extend(notes)
            if not cmd_packages:
                errors.append("drupal.command listed no Drupal extensions with versions")
                failed = True
            packages.update(cmd_packages)

    if site.modules:
        sources.append("modules")
        for raw_name, version in site.modules.items():
            name = composer_name(raw_name)
            if name is None or not str(version).strip():
                errors.append(
                    f"drupal.modules: {raw_name!r}: write entries as drupal/<project>: <version>"
                )
                continue
            packages[name] = str(version).strip()

    if not sources:
        errors.append(
            "no inventory: add drupal.composer_lock, drupal.modules or drupal.command to the "
            "site so advisories can be matched; until then check core advisories by hand"
        )

    normalized: dict[str, str] = {}
    normalize = _normalizer()
    if normalize is not None:
        for name, version in packages.items():
            try:
                normalized[name] = str(normalize(version))
            except ValueError as exc:  # VersionError is a ValueError
                errors.append(f"{name} {version}: {exc}")

    return Inventory(
        packages=dict(sorted(packages.items())),
        source=" + ".join(sources) if sources else "none",
        known=bool(sources) and not failed,
        errors=errors,
        normalized=normalized,
    )


async def load_inventory_contained(site: DrupalSite, config_dir: Path) -> Inventory:
    """:func:`load_inventory`, with any exception that still escapes it (a bug) turned into an
    unknown inventory that says so: callers that read many sites at once (the watcher, ``advisories
    match``, ``audit``) use this, so one site can never stop the others."""
    try:
        return await load_inventory(site, config_dir)
    except Exception as exc:  # one site's inventory must not stop every other site's
        return Inventory(
            packages={},
            source="error",
            known=False,
            errors=[f"reading the inventory failed: {_unexpected(exc)}"],
        )
