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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from monitord.config.models import DrupalSite
from monitord.drupal.packages import (
    CORE_ALIASES,
    CORE_PACKAGE,
    CORE_TOOLING,
    Inventory,
    composer_name,
    json_depth_error,
    packages_from_command_output,
    packages_from_composer_show,
    packages_from_drush,
    packages_from_lock,
)

__all__ = [
    "CORE_ALIASES",
    "CORE_PACKAGE",
    "CORE_TOOLING",
    "ERROR_DETAIL_CHARS",
    "INVENTORY_OUTPUT_MAX_BYTES",
    "KILL_GRACE_SECONDS",
    "LOCK_MAX_BYTES",
    "STDERR_SHOWN_CHARS",
    "Inventory",
    "composer_name",
    "load_inventory",
    "load_inventory_contained",
    "packages_from_command_output",
    "packages_from_composer_show",
    "packages_from_drush",
    "packages_from_lock",
    "run_inventory_command",
]

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


# ------------------------------------------------------------------ sources (I/O)


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
            json_depth_error(str(path)) + "; regenerate it with `composer update --lock`"
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


@dataclass(slots=True)
class _Reading:
    """What the sources read so far gave."""

    packages: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: bool = False

    def fail(self, error: str) -> None:
        self.errors.append(error)
        self.failed = True


async def _read_lock_source(reading: _Reading, lock: Path, config_dir: Path) -> None:
    path = lock if lock.is_absolute() else config_dir / lock
    reading.sources.append(f"composer.lock {path}")
    try:
        lock_packages = await asyncio.to_thread(_read_lock, path)
    except ValueError as exc:
        reading.fail(f"composer.lock: {exc}")
        return
    except Exception as exc:  # one site's file must not stop the others
        reading.fail(f"composer.lock: {path} could not be read: {_unexpected(exc)}")
        return
    if not lock_packages:
        reading.fail(f"composer.lock: {path} lists no drupal/* packages; is it the site's?")
    reading.packages.update(lock_packages)


async def _read_command_source(reading: _Reading, site: DrupalSite, config_dir: Path) -> None:
    assert site.command is not None
    try:
        cmd_packages, kind, notes = await run_inventory_command(
            site.command, site.command_timeout.total_seconds(), config_dir
        )
    except ValueError as exc:
        reading.sources.append("command")
        reading.fail(str(exc))
        return
    except Exception as exc:  # one site's command must not stop the others
        reading.sources.append("command")
        reading.fail(f"drupal.command could not be read: {_unexpected(exc)}")
        return
    reading.sources.append(f"command ({kind})")
    reading.errors.extend(notes)
    if not cmd_packages:
        reading.fail("drupal.command listed no Drupal extensions with versions")
    reading.packages.update(cmd_packages)


def _read_declared(reading: _Reading, modules: Mapping[str, object]) -> None:
    reading.sources.append("modules")
    for raw_name, version in modules.items():
        name = composer_name(raw_name)
        if name is None or not str(version).strip():
            reading.errors.append(
                f"drupal.modules: {raw_name!r}: write entries as drupal/<project>: <version>"
            )
            continue
        reading.packages[name] = str(version).strip()


def _normalized(packages: Mapping[str, str], errors: list[str]) -> dict[str, str]:
    """The Composer form of every version versions.py understands; the others noted."""
    normalized: dict[str, str] = {}
    normalize = _normalizer()
    if normalize is None:
        return normalized
    for name, version in packages.items():
        try:
            normalized[name] = str(normalize(version))
        except ValueError as exc:  # VersionError is a ValueError
            errors.append(f"{name} {version}: {exc}")
    return normalized


async def load_inventory(site: DrupalSite, config_dir: Path) -> Inventory:
    """Read every inventory source the site declares and merge them. Never raises for bad input.

    ``known`` is True only when at least one source is configured and every configured source
    was read. A relative ``composer_lock`` path and the command's working directory are the
    configuration directory. Sources are merged lock, then command, then hand-declared entries.
    """
    reading = _Reading()
    if site.composer_lock is not None:
        await _read_lock_source(reading, site.composer_lock, config_dir)
    if site.command is not None:
        await _read_command_source(reading, site, config_dir)
    if site.modules:
        _read_declared(reading, site.modules)
    if not reading.sources:
        reading.errors.append(
            "no inventory: add drupal.composer_lock, drupal.modules or drupal.command to the "
            "site so advisories can be matched; until then check core advisories by hand"
        )
    normalized = _normalized(reading.packages, reading.errors)
    return Inventory(
        packages=dict(sorted(reading.packages.items())),
        source=" + ".join(reading.sources) if reading.sources else "none",
        known=bool(reading.sources) and not reading.failed,
        errors=reading.errors,
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
