"""Hostile and absurd configuration files: every one is a located ConfigError, never an
exception from PyYAML, pydantic or our own recursive code, and never a traceback from
``monitord check-config`` (run as a real process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from monitord.config import load_config, loader, reader
from monitord.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

MAIN = """\
agency: {name: Collective}
smtp: {port: 1025, from: "Monitor <monitor@collective.example>"}
"""

DEPTH = 10_000


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def problems(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(directory, environ={})
    return [str(i) for i in info.value.issues]


DEEP_FILES = {
    "flow-lists": "client: acme\nname: ACME\nsites: " + "[" * DEPTH + "]" * DEPTH + "\n",
    "flow-mappings": "client: acme\nname: ACME\nsites: " + "{a: " * DEPTH + "}" * DEPTH + "\n",
    "block-mappings": "client: acme\nname: ACME\nsites:\n"
    + "".join(" " * i + f"k{i}:\n" for i in range(1, 3000)),
    "below-libyaml-limit": "client: acme\nname: ACME\nsites: " + "[" * 900 + "]" * 900 + "\n",
}


@pytest.mark.parametrize("case", sorted(DEEP_FILES))
@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
def test_deep_nesting_is_a_located_error(
    tmp_path: Path, case: str, libyaml: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not libyaml:
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    write(tmp_path, {"monitord.yml": MAIN, "clients/acme.yml": DEEP_FILES[case]})
    found = problems(tmp_path)
    assert len(found) == 1
    where, _, text = found[0].partition(": (top level): ")
    assert where.startswith(f"{tmp_path}/clients/acme.yml:")
    line = int(where.split(":")[1])
    assert line >= 3  # where the nesting is, not 1:1
    assert text.startswith(f"lists and mappings nested more than {reader.MAX_CONFIG_DEPTH} ")


def test_nesting_at_the_limit_is_read(tmp_path: Path) -> None:
    """The cap is on depth, not on real configurations: maintenance windows, checks with an
    expect block and so on are a few levels deep."""
    depth = reader.MAX_CONFIG_DEPTH - 2  # sites: [ … ] under the top-level mapping
    client = "client: acme\nname: ACME\nextra: " + "[" * depth + "]" * depth + "\n"
    write(tmp_path, {"monitord.yml": MAIN, "clients/acme.yml": client})
    found = problems(tmp_path)
    assert len(found) == 1 and "unknown key `extra`" in found[0]


def test_huge_file_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "MAX_CONFIG_FILE_BYTES", 1000)
    client = "client: acme\nname: ACME\n" + "# padding\n" * 200
    write(tmp_path, {"monitord.yml": MAIN, "clients/acme.yml": client})
    assert problems(tmp_path) == [
        f"{tmp_path}/clients/acme.yml:1:1: (top level): larger than 0 MiB, the largest "
        "configuration file monitord reads — check that this is the right file; split a very "
        "large client list into several files under clients/"
    ]


@pytest.mark.parametrize(
    "garbage",
    [
        bytes(range(256)) * 4,  # not UTF-8
        b"client: acme\n\x00\x01\x02 name: ACME\n",  # UTF-8, but control characters
        b"\xef\xbb\xbf" + b"\x1b[31m" * 100,  # a BOM, then terminal escapes
    ],
    ids=["not-utf8", "nul-bytes", "escapes"],
)
def test_binary_garbage_is_a_located_error(tmp_path: Path, garbage: bytes) -> None:
    write(tmp_path, {"monitord.yml": MAIN, "clients/acme.yml": garbage})
    found = problems(tmp_path)
    assert found and all(f.startswith(f"{tmp_path}/clients/acme.yml:") for f in found)


def test_alias_bomb_with_merge_keys_is_refused(tmp_path: Path) -> None:
    """``<<:`` merges double a mapping at each level: refused by the node count, not by
    exhausting memory."""
    levels = ["a0: &a0 {x: 1, y: 2}"]
    levels += [f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], k{i}: 1}}" for i in range(1, 40)]
    write(tmp_path, {"monitord.yml": MAIN + "\n".join(levels) + "\n"})
    found = problems(tmp_path)
    assert found  # located, whatever it is; the point is that it returns at all
    assert all(f.startswith(f"{tmp_path}/monitord.yml:") for f in found)


def test_unexpected_exception_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a check raises (a bug), load_config answers with a ConfigError naming the file."""

    def boom(*_a: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(loader, "check_holidays", boom)
    write(tmp_path, {"monitord.yml": MAIN})
    assert problems(tmp_path) == [
        f"{tmp_path}/monitord.yml:1:1: (top level): could not be read (KeyError: 'surprise') — "
        "this is a bug in monitord: report it with this message; meanwhile look for an unusual "
        "value in this file"
    ]


def _check_config(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitord", "check-config", "--config", str(directory)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_config_cli_never_prints_a_traceback(tmp_path: Path) -> None:
    """The real command on every hostile file at once: exit 1, one located line per file."""
    files: dict[str, str | bytes] = {"monitord.yml": MAIN}
    for i, text in enumerate(DEEP_FILES.values()):
        files[f"clients/deep{i}.yml"] = text.replace("client: acme", f"client: c{i}")
    files["clients/garbage.yml"] = bytes(range(256))
    files["clients/absurd.yml"] = textwrap.dedent(
        """\
        client: absurd
        name: Absurd
        sites:
          - id: absurd-www
            url: https://www.absurd.example/
            checks:
              - {type: http, interval: 1000000w, timeout: .inf}
              - {type: http, interval: 99999999999999999999w}
            alert: {repeat_every: 9999999999999d}
        """
    )
    write(tmp_path, files)
    proc = _check_config(tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr and "Error:" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[-1] == f"9 problems in {tmp_path}"
    assert all(line.startswith(f"{tmp_path}/clients/") for line in lines[:-1])
    assert (
        f"{tmp_path}/clients/absurd.yml:7:32: sites[0].checks[0].interval: interval must be at "
        "least 1s and at most 1d — use a duration such as 60s, 5m or 6h"
    ) in lines
    assert (
        f"{tmp_path}/clients/absurd.yml:9:27: sites[0].alert.repeat_every: repeat_every must be "
        "at least 1s and at most 7d — use a duration such as 4h (null for no reminders)"
    ) in lines
