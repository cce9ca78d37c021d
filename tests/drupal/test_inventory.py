"""Site inventories: composer.lock, hand-declared modules, and a real command (drush/composer JSON)."""

from __future__ import annotations

import asyncio
import importlib.util
import shlex
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitord.config.models import DrupalSite
from monitord.drupal import inventory as inventory_module
from monitord.drupal.inventory import (
    LOCK_MAX_BYTES,
    composer_name,
    load_inventory,
    load_inventory_contained,
    packages_from_command_output,
    packages_from_drush,
    packages_from_lock,
)

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"
SCRIPT = FIXTURES / "inventory_command.py"
SHORT = timedelta(seconds=1)
"""Long enough for two Python start-ups on a loaded machine (the pid file must be written)."""


def command(*args: str | Path) -> str:
    return shlex.join([sys.executable, str(SCRIPT), *(str(a) for a in args)])


def site(**kw: Any) -> DrupalSite:
    return DrupalSite(**kw)


LOCK_PACKAGES = {
    "drupal/admin_toolbar": "dev-3.x",
    "drupal/core": "10.3.1",
    "drupal/ctools": "4.1.0",
    "drupal/devel": "5.2.1",
    "drupal/webform": "6.2.3",
}
DRUSH_PACKAGES = {
    "drupal/admin_toolbar": "3.4.2",
    "drupal/core": "10.3.1",
    "drupal/core_context_plus": "2.1.0",
    "drupal/ctools": "8.x-3.14",
    "drupal/webform": "6.2.3",
}
DRUSH_FULL_PACKAGES = {"drupal/core": "7.101", "drupal/views": "7.x-3.29", "drupal/zen": "7.x-6.4"}
COMPOSER_SHOW_PACKAGES = {
    "drupal/core": "11.0.7",
    "drupal/gin": "3.0.0-rc14",
    "drupal/pathauto": "dev-1.x",
}


# ---------------------------------------------------------------- sources that work


@pytest.mark.parametrize(
    ("config", "packages", "source"),
    [
        (
            {"composer_lock": FIXTURES / "composer.lock"},
            LOCK_PACKAGES,
            f"composer.lock {FIXTURES / 'composer.lock'}",
        ),
        (
            {"composer_lock": Path("recommended-only.lock")},  # relative to the config dir
            {"drupal/core": "10.2.5", "drupal/pathauto": "1.12.0", "drupal/token": "1.15.0"},
            f"composer.lock {FIXTURES / 'recommended-only.lock'}",
        ),
        (
            {"command": command("print", FIXTURES / "drush-pm-list.json")},
            DRUSH_PACKAGES,
            "command (drush pm:list)",
        ),
        (
            {"command": command("print", FIXTURES / "drush-pm-list-full.json")},
            DRUSH_FULL_PACKAGES,
            "command (drush pm:list)",
        ),
        (
            {"command": command("print", "composer-show.json")},  # runs in the config dir
            COMPOSER_SHOW_PACKAGES,
            "command (composer show)",
        ),
        (
            {"modules": {"drupal/core": "10.3.1", "webform": "6.2.3", "Drupal/Token": "8.x-1.15"}},
            {"drupal/core": "10.3.1", "drupal/token": "8.x-1.15", "drupal/webform": "6.2.3"},
            "modules",
        ),
        (
            {
                "composer_lock": FIXTURES / "composer.lock",
                "modules": {"drupal/webform": "6.2.4", "drupal/token": "1.15.0"},
            },
            {**LOCK_PACKAGES, "drupal/webform": "6.2.4", "drupal/token": "1.15.0"},
            f"composer.lock {FIXTURES / 'composer.lock'} + modules",
        ),
        (
            {
                "composer_lock": FIXTURES / "composer.lock",
                "command": command("print", FIXTURES / "composer-show.json"),
            },
            {**LOCK_PACKAGES, **COMPOSER_SHOW_PACKAGES},  # the command, run later, wins
            f"composer.lock {FIXTURES / 'composer.lock'} + command (composer show)",
        ),
    ],
)
async def test_inventory_sources(
    config: dict[str, Any], packages: dict[str, str], source: str
) -> None:
    inv = await load_inventory(site(**config), FIXTURES)
    assert inv.errors == []
    assert inv.known
    assert inv.packages == packages
    assert inv.source == source
    assert inv.core_version == packages["drupal/core"]


# ---------------------------------------------------------------- sources that fail


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"composer_lock": Path("nope/composer.lock")}, "does not exist"),
        ({"composer_lock": FIXTURES / "truncated.lock"}, "is not valid JSON"),
        ({"composer_lock": FIXTURES / "no-drupal.lock"}, "lists no drupal/* packages"),
        ({"composer_lock": FIXTURES}, "does not exist"),  # a directory
        ({"command": command("fail")}, "exited with status 3: Drush command terminated"),
        ({"command": command("garbage")}, "its output is not JSON"),
        ({"command": command("print", FIXTURES / "composer.lock")}, "not the output of"),
        ({"command": "/nonexistent/drush pm:list --format=json"}, "cannot be started"),
        ({"command": "drush 'unbalanced"}, "cannot be split"),
        ({"command": command("print", FIXTURES / "no-drupal.lock")}, "not the output of"),
        ({}, "no inventory: add drupal.composer_lock"),
    ],
)
async def test_failures_give_unknown_with_a_clear_error(
    config: dict[str, Any], expected: str
) -> None:
    inv = await load_inventory(site(**config), FIXTURES)
    assert not inv.known
    assert any(expected in e for e in inv.errors), inv.errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", "not a JSON object"),
        ('{"content-hash": "x"}', "no 'packages' list"),
        ('{"packages": {"drupal/core": "10.3.1"}}', "'packages' is not a list"),
        ('{"packages": [], "packages-dev": "x"}', "'packages-dev' is not a list"),
    ],
)
async def test_lock_of_the_wrong_shape(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, "composer.lock", text)
    inv = await load_inventory(site(composer_lock=path), tmp_path)
    assert not inv.known
    assert len(inv.errors) == 1
    assert inv.errors[0].startswith(f"composer.lock: {path}: ")
    assert expected in inv.errors[0]


# ---------------------------------------------------------------- hostile sources fail alone

DEPTH_ERROR = (
    f"nests JSON deeper than Python's reader allows ({sys.getrecursionlimit()} levels; "
    "a real one is 4 deep), so it is broken or hostile"
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[" * 200_000, DEPTH_ERROR + "; regenerate it with `composer update --lock`"),
        (b'{"packages": ' + b"[" * 5000 + b"]" * 5000 + b"}", DEPTH_ERROR),
        (b'{"packages": [{"name": "drupal/core", "version": "10.3.\xff"}]}', "not valid JSON"),
        (b"\xff\xfe{}", "is not valid JSON"),
        (b'{"packages": 12}', "'packages' is not a list"),
    ],
)
async def test_a_hostile_lock_gives_unknown_naming_the_file(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "composer.lock"
    path.write_bytes(content)
    inv = await load_inventory(site(composer_lock=path), tmp_path)
    assert not inv.known
    (error,) = inv.errors
    assert error.startswith(f"composer.lock: {path}")
    assert expected in error


async def test_a_lock_past_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "composer.lock"
    with path.open("wb") as f:
        f.truncate(LOCK_MAX_BYTES + 1)  # sparse: costs no disk
    inv = await load_inventory(site(composer_lock=path), tmp_path)
    assert not inv.known
    assert inv.errors == [
        f"composer.lock: {path} is larger than {LOCK_MAX_BYTES} bytes (LOCK_MAX_BYTES), far "
        "beyond a real composer.lock; point drupal.composer_lock at the site's composer.lock"
    ]


async def test_deep_command_output_gives_unknown(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 200_000)
    inv = await load_inventory(site(command=command("print", deep)), tmp_path)
    assert not inv.known
    (error,) = inv.errors
    assert error.startswith("drupal.command 'python")
    assert "its output " + DEPTH_ERROR in error


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (MemoryError(), "it needs more memory than the host has"),
        (RecursionError("maximum recursion depth exceeded"), "it nests too deeply to read"),
        (KeyError("packages"), "KeyError: 'packages'"),
    ],
)
async def test_any_exception_reading_a_source_is_contained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: Exception, expected: str
) -> None:
    """The class, not the instance: whatever a source raises becomes that site's error."""

    def boom(data: object) -> dict[str, str]:
        raise exc

    monkeypatch.setattr(inventory_module, "packages_from_lock", boom)
    path = FIXTURES / "composer.lock"
    inv = await load_inventory(site(composer_lock=path, modules={"drupal/x": "1.0.0"}), FIXTURES)
    assert not inv.known
    assert inv.packages == {"drupal/x": "1.0.0"}  # the other source still counts
    assert inv.errors == [
        f"composer.lock: {path} could not be read: {expected}; check the file or command by "
        "hand, and report it if it looks right"
    ]


async def test_contained_load_turns_a_bug_into_an_unknown_inventory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(version: str) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(inventory_module, "_normalizer", lambda: boom)
    inv = await load_inventory_contained(site(modules={"drupal/core": "10.3.1"}), FIXTURES)
    assert not inv.known
    assert inv.errors == [
        "reading the inventory failed: RuntimeError: a bug; check the file or command by hand, "
        "and report it if it looks right"
    ]


async def test_a_failing_source_keeps_what_the_others_found() -> None:
    inv = await load_inventory(
        site(composer_lock=FIXTURES / "composer.lock", command=command("fail")), FIXTURES
    )
    assert not inv.known  # partial knowledge could hide a vulnerable module
    assert inv.packages == LOCK_PACKAGES
    assert inv.source == f"composer.lock {FIXTURES / 'composer.lock'} + command"
    assert len(inv.errors) == 1


async def test_bad_hand_declared_entry_is_reported() -> None:
    inv = await load_inventory(
        site(modules={"drupal/core": "10.3.1", "symfony/console": "6.4.8"}), FIXTURES
    )
    assert inv.packages == {"drupal/core": "10.3.1"}
    assert inv.errors == [
        "drupal.modules: 'symfony/console': write entries as drupal/<project>: <version>"
    ]


def _state(pid: int) -> str | None:
    """The process's state letter, or None when it is gone (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    state = stat.rsplit(")", 1)[1].split()[0]
    return None if state in ("Z", "X") else state


async def _gone(pid: int) -> bool:
    """Wait (bounded, by events not by a clock) for a SIGKILLed process to disappear."""
    for _ in range(500):
        if _state(pid) is None:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_hung_command_is_killed_at_its_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    inv = await load_inventory(
        site(command=command("hang", pidfile), command_timeout=SHORT), FIXTURES
    )
    assert not inv.known
    assert inv.errors == [
        f"drupal.command {Path(sys.executable).name!r} did not finish within 1s and was "
        "killed; raise drupal.command_timeout or make the command faster"
    ]
    pid = int(pidfile.read_text())
    assert _state(pid) is None  # reaped before load_inventory returned


async def test_a_grandchild_holding_stdout_is_killed_too(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    inv = await load_inventory(
        site(command=command("orphan", pidfile), command_timeout=SHORT), FIXTURES
    )
    assert not inv.known
    assert "did not finish within 1s" in inv.errors[0]
    assert await _gone(int(pidfile.read_text()))


async def test_no_shell_is_involved(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    inv = await load_inventory(
        site(command=command("print", FIXTURES / "composer-show.json") + f" ; touch {marker}"),
        FIXTURES,
    )
    # the ';' and 'touch' are arguments to the script, not shell syntax
    assert inv.packages == COMPOSER_SHOW_PACKAGES
    assert not marker.exists()


async def test_versions_are_normalized_when_versions_module_exists() -> None:
    if importlib.util.find_spec("monitord.drupal.versions") is None:
        pytest.skip("monitord.drupal.versions is not written yet")
    from monitord.drupal.versions import normalize_drupal_version

    inv = await load_inventory(
        site(command=command("print", FIXTURES / "drush-pm-list-full.json")), FIXTURES
    )
    assert inv.normalized == {k: normalize_drupal_version(v) for k, v in inv.packages.items()}
    assert inv.normalized["drupal/views"] == "3.29.0"
    assert inv.packages["drupal/views"] == "7.x-3.29"  # the raw string is kept


# ---------------------------------------------------------------- pure parsers


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("drupal/core", "drupal/core"),
        ("drupal/core-recommended", "drupal/core"),
        ("drupal/drupal", "drupal/core"),
        ("drupal/core-composer-scaffold", None),
        ("drupal/core-project-message", None),
        ("drupal/core-dev", None),
        ("drupal/core_context_plus", "drupal/core_context_plus"),
        ("Drupal/Webform", "drupal/webform"),
        ("webform", "drupal/webform"),
        ("drupal", "drupal/core"),
        ("core", "drupal/core"),
        ("symfony/console", None),
        ("", None),
        ("  ", None),
    ],
)
def test_composer_name(name: str, expected: str | None) -> None:
    assert composer_name(name) == expected


def test_core_recommended_alone_gives_core_and_real_core_wins() -> None:
    only = {"packages": [{"name": "drupal/core-recommended", "version": "10.2.5"}]}
    assert packages_from_lock(only) == {"drupal/core": "10.2.5"}
    both = {
        "packages": [
            {"name": "drupal/core-recommended", "version": "10.2.5"},
            {"name": "drupal/core", "version": "10.2.6"},
        ]
    }
    assert packages_from_lock(both) == {"drupal/core": "10.2.6"}
    reverse = {"packages": list(reversed(both["packages"]))}
    assert packages_from_lock(reverse) == {"drupal/core": "10.2.6"}


@pytest.mark.parametrize(
    ("data", "packages"),
    [
        # with only drush's default fields, core is what most "Core" extensions share
        (
            {
                "node": {"package": "Core", "version": "10.3.1"},
                "user": {"package": "Core", "version": "10.3.1"},
                "liar": {"package": "Core", "version": "1.0.0"},
            },
            {"drupal/core": "10.3.1", "drupal/liar": "1.0.0"},
        ),
        # path/project are stronger evidence than votes
        (
            {
                "node": {"package": "Core", "path": "core/modules/node", "version": "9.5.11"},
                "a": {"package": "Core", "version": "2.0.0"},
                "b": {"package": "Core", "version": "2.0.0"},
            },
            {"drupal/core": "9.5.11", "drupal/a": "2.0.0", "drupal/b": "2.0.0"},
        ),
        # submodules map to their project
        (
            {
                "metatag": {"project": "metatag", "package": "SEO", "version": "2.0.2"},
                "metatag_open_graph": {"project": "metatag", "package": "SEO", "version": "2.0.2"},
            },
            {"drupal/metatag": "2.0.2"},
        ),
        # custom code without a version is skipped
        ({"acme": {"package": "Custom", "version": None}}, {}),
        ({}, {}),
    ],
)
def test_drush_mapping(data: dict[str, Any], packages: dict[str, str]) -> None:
    got, notes = packages_from_drush(data)
    assert got == packages
    assert notes == []


@pytest.mark.parametrize(
    ("stdout", "kind"),
    [
        (b'{"installed": []}', "composer show"),
        (
            b'{"node": {"package": "Core", "version": "10.3.1", "status": "Enabled"}}',
            "drush pm:list",
        ),
        (b"[]", "drush pm:list"),
    ],
)
def test_command_output_detection(stdout: bytes, kind: str) -> None:
    assert packages_from_command_output(stdout)[1] == kind


def test_drush_json_without_versions_is_refused() -> None:
    with pytest.raises(ValueError, match="neither 'installed'"):
        packages_from_command_output(b'{"node": {"package": "Core", "status": "Enabled"}}')
