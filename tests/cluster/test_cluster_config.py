"""The cluster keys (``node``, ``nodes``, ``locations``, ``alert.quorum``): read, refused with
located errors, and warned about by ``check-config`` when they cannot do what was meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitord.cli import main
from monitord.cluster.config_warnings import SQLITE_ONLY_NODE, cluster_warnings
from monitord.config import load_config
from monitord.config.models import NodeConfig, NodePeerConfig
from tests.config.test_loader import problems, write

AGENCY = "agency: {name: Collective}\nsecurity: {enabled: false}\n"
PG = 'state: {url: "postgresql://monitord:pw@db.example/monitord"}\n'


def client(site_extra: str = "", name: str = "acme.yml") -> dict[str, str]:
    return {
        f"clients/{name}": (
            "client: acme\nname: ACME\nsites:\n"
            "  - id: acme-www\n    url: https://www.acme.example/\n" + site_extra
        )
    }


def test_the_keys_are_read(tmp_path: Path) -> None:
    main_yml = (
        AGENCY
        + PG
        + "node: {id: lon-1, source_address: 192.0.2.10}\n"
        + "nodes:\n"
        + "  lon-1: {location: London}\n"
        + '  ams-1: {source_address: "2001:DB8::0010", location: " Amsterdam "}\n'
    )
    site = "    locations: [lon-1, ams-1]\n    alert: {quorum: 2}\n"
    config = load_config(write(tmp_path, {"monitord.yml": main_yml, **client(site)}))
    assert config.main.node == NodeConfig(id="lon-1", source_address="192.0.2.10")
    assert config.main.nodes == {
        "lon-1": NodePeerConfig(location="London"),
        "ams-1": NodePeerConfig(source_address="2001:db8::10", location="Amsterdam"),
    }
    s = config.clients[0].sites[0]
    assert (s.locations, s.alert.quorum) == (("lon-1", "ams-1"), 2)
    assert config.clients[0].file == "clients/acme.yml"
    assert cluster_warnings(config) == []


def test_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"monitord.yml": AGENCY, **client()}))
    assert config.main.node == NodeConfig(id=None, source_address=None)
    assert config.main.nodes == {}
    s = config.clients[0].sites[0]
    assert (s.locations, s.alert.quorum) == (None, None)


BAD_MAIN = [
    (
        "node: {id: Lon-1}\n",
        "monitord.yml:3:12: node.id: 'Lon-1' is not a valid id — use lower-case letters",
    ),
    (
        "node: {source_address: 300.1.1.1}\n",
        "monitord.yml:3:24: node.source_address: '300.1.1.1' is not an IP address — write an "
        "address of this host as `ip addr` lists it, such as 192.0.2.10 or 2001:db8::10",
    ),
    (
        "node: {source_address: lon-1.example}\n",
        "monitord.yml:3:24: node.source_address: 'lon-1.example' is not an IP address",
    ),
    (
        "node: {source_address: 0.0.0.0}\n",
        "monitord.yml:3:24: node.source_address: '0.0.0.0' is the unspecified address, which a "
        "connection cannot come from",
    ),
    (
        'nodes: {lon-1: {source_address: "ff02::1"}}\n',
        "monitord.yml:3:33: nodes.lon-1.source_address: 'ff02::1' is a multicast address",
    ),
    (
        "nodes: {LON: {location: London}}\n",
        "monitord.yml:3:9: nodes.LON: 'LON' is not a valid id",
    ),
    (
        'nodes: {lon-1: {location: "  "}}\n',
        "monitord.yml:3:27: nodes.lon-1.location: location is empty or spans lines — write a "
        "short one-line name people read in messages, such as London",
    ),
    (
        "nodes: {lon-1: {id: lon-1}}\n",
        "monitord.yml:3:17: nodes.lon-1.id: unknown key `id`",
    ),
    ("node: {name: lon-1}\n", "monitord.yml:3:8: node.name: unknown key `name`"),
]


@pytest.mark.parametrize(("extra", "problem"), BAD_MAIN)
def test_bad_node_keys_are_located(tmp_path: Path, extra: str, problem: str) -> None:
    found = problems(write(tmp_path, {"monitord.yml": AGENCY + extra, **client()}))
    assert any(p.endswith(problem) or problem in p for p in found), found


BAD_SITE = [
    (
        "    locations: []\n",
        "clients/acme.yml:6:5: sites[0].locations: locations is empty, so no node would probe "
        "this site — list node ids (locations: [lon-1, ams-1]) or remove the key to have every "
        "node probe it",
    ),
    (
        "    locations: [lon-1, ams-1, lon-1]\n",
        "clients/acme.yml:6:5: sites[0].locations: locations names lon-1 more than once — list "
        "each node once",
    ),
    (
        "    locations: [lon-1, AMS]\n",
        "clients/acme.yml:6:24: sites[0].locations[1]: 'AMS' is not a valid id",
    ),
    (
        "    locations: lon-1\n",
        "clients/acme.yml:6:16: sites[0].locations:",
    ),
    (
        "    alert: {quorum: 0}\n",
        "clients/acme.yml:6:21: sites[0].alert.quorum: must be at least 1, got 0",
    ),
    (
        "    alert: {quorum: 101}\n",
        "clients/acme.yml:6:21: sites[0].alert.quorum: must be at most 100, got 101",
    ),
    (
        "    alert: {quorum: majority}\n",
        "clients/acme.yml:6:21: sites[0].alert.quorum:",
    ),
]


@pytest.mark.parametrize(("extra", "problem"), BAD_SITE)
def test_bad_site_keys_are_located(tmp_path: Path, extra: str, problem: str) -> None:
    found = problems(write(tmp_path, {"monitord.yml": AGENCY, **client(extra)}))
    assert any(problem in p for p in found), found


# ---------------------------------------------------------------- check-config warnings

QUORUM_TOO_LARGE = (
    "clients/acme.yml: sites[0].alert.quorum: site acme-www needs 3 nodes to agree but its "
    "locations list 2, so it can never be declared down or up — lower alert.quorum to at "
    "most 2, or add nodes to locations"
)

WARNINGS = [
    ("postgres, nothing set", PG, "", []),
    (
        "postgres, quorum within locations",
        PG,
        "    locations: [a, b]\n    alert: {quorum: 2}\n",
        [],
    ),
    ("postgres, quorum without locations", PG, "    alert: {quorum: 5}\n", []),
    (
        "postgres, quorum over locations",
        PG,
        "    locations: [lon-1, ams-1]\n    alert: {quorum: 3}\n",
        [QUORUM_TOO_LARGE],
    ),
    ("sqlite, nothing set", "", "", []),
    (
        "sqlite, node",
        "node: {id: lon-1}\n",
        "",
        [f"monitord.yml: node: {SQLITE_ONLY_NODE}"],
    ),
    (
        "sqlite, node and nodes",
        "node: {id: lon-1}\nnodes: {lon-1: {location: London}}\n",
        "",
        [f"monitord.yml: node: and nodes: {SQLITE_ONLY_NODE}"],
    ),
    (
        "sqlite, locations and quorum",
        "",
        "    locations: [lon-1]\n    alert: {quorum: 1}\n",
        [f"clients/acme.yml: sites[0].locations, sites[0].alert.quorum {SQLITE_ONLY_NODE}"],
    ),
    (
        "sqlite, quorum over locations: both",
        "",
        "    locations: [lon-1, ams-1]\n    alert: {quorum: 3}\n",
        [
            QUORUM_TOO_LARGE,
            f"clients/acme.yml: sites[0].locations, sites[0].alert.quorum {SQLITE_ONLY_NODE}",
        ],
    ),
]


@pytest.mark.parametrize(
    ("main_extra", "site_extra", "expected"),
    [w[1:] for w in WARNINGS],
    ids=[w[0] for w in WARNINGS],
)
def test_cluster_warnings(
    tmp_path: Path, main_extra: str, site_extra: str, expected: list[str]
) -> None:
    config = load_config(
        write(tmp_path, {"monitord.yml": AGENCY + main_extra, **client(site_extra)})
    )
    assert cluster_warnings(config) == expected


def test_sqlite_warning_says_what_to_do() -> None:
    assert SQLITE_ONLY_NODE.startswith(
        "only matter with several nodes on PostgreSQL (state.url); with the SQLite store one "
        "node probes and decides alone"
    )


def test_a_warning_names_the_file_as_named(tmp_path: Path) -> None:
    """The client file is named as it is on disk, whatever the client's id."""
    site = "    locations: [lon-1, ams-1]\n    alert: {quorum: 3}\n"
    d = write(tmp_path, {"monitord.yml": AGENCY + PG, **client(site, name="10-acme.yaml")})
    (warning,) = cluster_warnings(load_config(d))
    assert warning.startswith("clients/10-acme.yaml: sites[0].alert.quorum: site acme-www")


def test_check_config_prints_them_and_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = "    locations: [lon-1, ams-1]\n    alert: {quorum: 3}\n"
    main_yml = (
        "agency: {name: Collective, support_email: support@collective.example}\n"
        "security: {enabled: false}\n"
        'smtp: {host: 127.0.0.1, port: 25, from: "Mon <monitor@collective.example>"}\n'
        "node: {id: lon-1}\n"
    )
    d = write(tmp_path, {"monitord.yml": main_yml, **client(site)})
    code = main(["check-config", "--config", str(d)])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("config OK: 1 client, 1 site, 0 checks")
    assert err.splitlines() == [
        f"warning: monitord.yml: node: {SQLITE_ONLY_NODE}",
        f"warning: {QUORUM_TOO_LARGE}",
        f"warning: clients/acme.yml: sites[0].locations, sites[0].alert.quorum {SQLITE_ONLY_NODE}",
    ]


def test_check_config_names_the_node_a_daemon_here_would_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    main_yml = AGENCY + PG + "nodes: {ams-1: {source_address: 127.0.0.2}}\n"
    d = write(tmp_path, {"monitord.yml": main_yml, **client()})
    monkeypatch.setenv("MONITORD_NODE", "ams-1")
    assert main(["check-config", "--config", str(d)]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[1] == "node here: ams-1 (from $MONITORD_NODE), probes from 127.0.0.2"
    # A node id a daemon would refuse is refused here, before anything starts.
    monkeypatch.setenv("MONITORD_NODE", "Ams 1")
    assert main(["check-config", "--config", str(d)]) == 1
    _, err = capsys.readouterr()
    assert "Ams 1" in err and "MONITORD_NODE" in err
