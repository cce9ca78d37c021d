"""Which node a daemon is (monitord.cluster.identity): ``--node``, then ``$MONITORD_NODE``,
then ``node.id``, then the host name; and the source address its probes bind to."""

from __future__ import annotations

from typing import Any

import pytest

from monitord.cluster.identity import (
    NODE_ENV,
    NODE_ID,
    NodeIdentity,
    NodeIdError,
    location_labels,
    resolve_node,
    sanitise_hostname,
)
from monitord.config import models
from monitord.config.models import MainConfig
from monitord.errors import MonitordError


def main_config(**extra: Any) -> MainConfig:
    return MainConfig.model_validate({"agency": {"name": "Collective"}, **extra})


NODES = {
    "nodes": {
        "lon-1": {"source_address": "192.0.2.10", "location": "London"},
        "ams-1": {"location": "Amsterdam"},
    }
}

RESOLVE: list[tuple[str, str | None, dict[str, str], dict[str, Any], str, NodeIdentity]] = [
    ("host name", None, {}, {}, "web01", NodeIdentity("web01", None, "the host name")),
    (
        "host name, lower-cased and made an id",
        None,
        {},
        {},
        "Web01.Example.COM",
        NodeIdentity("web01.example.com", None, "the host name"),
    ),
    (
        "host name with characters an id may not hold",
        None,
        {},
        {},
        "_Büro Server#2",
        NodeIdentity("b-ro-server-2", None, "the host name"),
    ),
    (
        "node.id beats the host name",
        None,
        {},
        {"node": {"id": "lon-1"}},
        "web01",
        NodeIdentity("lon-1", None, "node.id in monitord.yml"),
    ),
    (
        "$MONITORD_NODE beats node.id",
        None,
        {NODE_ENV: "ams-1"},
        {"node": {"id": "lon-1"}},
        "web01",
        NodeIdentity("ams-1", None, "$MONITORD_NODE"),
    ),
    (
        "an empty $MONITORD_NODE is unset",
        None,
        {NODE_ENV: ""},
        {"node": {"id": "lon-1"}},
        "web01",
        NodeIdentity("lon-1", None, "node.id in monitord.yml"),
    ),
    (
        "--node beats them all",
        "fra-1",
        {NODE_ENV: "ams-1"},
        {"node": {"id": "lon-1"}},
        "web01",
        NodeIdentity("fra-1", None, "--node"),
    ),
    (
        "node.source_address",
        None,
        {},
        {"node": {"id": "lon-1", "source_address": "192.0.2.99"}},
        "web01",
        NodeIdentity("lon-1", "192.0.2.99", "node.id in monitord.yml"),
    ),
    (
        "nodes.<id>.source_address beats node.source_address",
        "lon-1",
        {},
        {"node": {"source_address": "192.0.2.99"}, **NODES},
        "web01",
        NodeIdentity("lon-1", "192.0.2.10", "--node"),
    ),
    (
        "nodes.<id> without a source address: node.source_address",
        "ams-1",
        {},
        {"node": {"source_address": "192.0.2.99"}, **NODES},
        "web01",
        NodeIdentity("ams-1", "192.0.2.99", "--node"),
    ),
    (
        "another node's entry is not this node's",
        None,
        {NODE_ENV: "fra-1"},
        NODES,
        "web01",
        NodeIdentity("fra-1", None, "$MONITORD_NODE"),
    ),
    (
        "the host name finds its nodes entry",
        None,
        {},
        NODES,
        "LON-1",
        NodeIdentity("lon-1", "192.0.2.10", "the host name"),
    ),
]


@pytest.mark.parametrize(
    ("cli", "env", "config", "hostname", "expected"),
    [r[1:] for r in RESOLVE],
    ids=[r[0] for r in RESOLVE],
)
def test_resolve_node(
    cli: str | None,
    env: dict[str, str],
    config: dict[str, Any],
    hostname: str,
    expected: NodeIdentity,
) -> None:
    assert resolve_node(cli, env, main_config(**config), hostname) == expected


BAD = [
    ("Lon-1", {}, "--node 'Lon-1' is not a valid node id"),
    ("", {}, "--node '' is not a valid node id"),
    ("lon 1", {}, "--node 'lon 1' is not a valid node id"),
    ("-lon", {}, "--node '-lon' is not a valid node id"),
    ("x" * 64, {}, f"--node '{'x' * 64}' is not a valid node id"),
    (None, {NODE_ENV: "LON-1"}, "$MONITORD_NODE 'LON-1' is not a valid node id"),
    (None, {NODE_ENV: "lon/1"}, "$MONITORD_NODE 'lon/1' is not a valid node id"),
]


@pytest.mark.parametrize(("cli", "env", "problem"), BAD)
def test_a_typed_id_must_be_valid_as_written(
    cli: str | None, env: dict[str, str], problem: str
) -> None:
    """A typed id is never altered: an altered one would be a second node beside the first."""
    with pytest.raises(NodeIdError) as info:
        resolve_node(cli, env, main_config(node={"id": "lon-1"}), "web01")
    assert str(info.value).startswith(problem)
    assert str(info.value).endswith(
        "; use 1 to 63 lower-case letters, digits, '-', '_' or '.', starting with a letter or "
        "digit, such as lon-1"
    )
    assert isinstance(info.value, MonitordError)  # the command line prints it, no traceback
    assert isinstance(info.value, ValueError)


def test_a_host_name_that_gives_nothing() -> None:
    with pytest.raises(NodeIdError, match="gives no node id; name this node with --node ID"):
        resolve_node(None, {}, main_config(), "---")


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("web01", "web01"),
        ("Web01.Example.COM", "web01.example.com"),
        ("  node-a\n", "node-a"),
        ("..x", "x"),
        ("a" * 100, "a" * 63),
        ("ünïcode", "n-code"),
        ("", ""),
    ],
)
def test_sanitise_hostname(hostname: str, expected: str) -> None:
    name = sanitise_hostname(hostname)
    assert name == expected
    assert name == "" or NODE_ID.match(name)


def test_the_node_id_is_the_configurations_id() -> None:
    assert NODE_ID.pattern == models._ID.pattern


def test_location_labels() -> None:
    assert location_labels(main_config(**NODES)) == {"lon-1": "London", "ams-1": "Amsterdam"}
    assert location_labels(main_config(nodes={"fra-1": {"source_address": "192.0.2.1"}})) == {}
