"""``monitord run --node ID``: a valid id reaches the daemon; an invalid one is a usage error
before anything starts; the help names the other ways to set it."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli import build_parser
from monitord.commands.run import make_daemon


def test_node_reaches_the_daemon(tmp_path: Path) -> None:
    args = build_parser().parse_args(["run", "--config", str(tmp_path), "--node", "lon-1"])
    assert args.node == "lon-1"
    assert make_daemon(args).node_arg == "lon-1"


def test_without_node_the_daemon_resolves_it_itself(tmp_path: Path) -> None:
    args = build_parser().parse_args(["run", "--config", str(tmp_path)])
    assert args.node is None
    assert make_daemon(args).node_arg is None


@pytest.mark.parametrize("bad", ["Lon-1", "", "lon 1", "-x", "lon/1"])
def test_an_invalid_node_is_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["run", f"--node={bad}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --node: {bad!r} is not a valid node id; use 1 to 63 lower-case" in err


def test_help_names_the_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--node ID this node's id with several nodes on one PostgreSQL store" in out
    assert "its id is --node, else $MONITORD_NODE, else node.id in monitord.yml" in out
