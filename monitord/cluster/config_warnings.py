"""``check-config`` warnings about the cluster keys: valid, but not doing what was meant.

Pure: reads a loaded :class:`~monitord.config.models.Config`. Each warning starts with the
file it is about (relative to the configuration directory) and ends with the fix:

* a site's ``alert.quorum`` larger than its ``locations:`` could ever give (the check would
  never be declared DOWN, nor UP);
* ``node:``, ``nodes:``, ``locations:`` or ``alert.quorum`` with the SQLite store, where one
  node probes and decides alone and these keys do nothing.
"""

from __future__ import annotations

from monitord.config.models import Config

MAIN_FILE = "monitord.yml"

SQLITE_ONLY_NODE = (
    "only matter with several nodes on PostgreSQL (state.url); with the SQLite store one node "
    "probes and decides alone — set state.url to share a PostgreSQL store between nodes, or "
    "remove them"
)


def cluster_warnings(config: Config) -> list[str]:
    """One line per problem, ``FILE: path: problem — fix``, in file order."""
    out: list[str] = []
    sqlite = config.main.state.url is None
    if sqlite:
        keys = [f"{k}:" for k in ("node", "nodes") if k in config.main.model_fields_set]
        if keys:
            out.append(f"{MAIN_FILE}: {' and '.join(keys)} {SQLITE_ONLY_NODE}")
    for client in config.clients:
        unused: list[str] = []
        for i, site in enumerate(client.sites):
            where = f"sites[{i}]"
            quorum = site.alert.quorum
            if site.locations is not None and quorum is not None and quorum > len(site.locations):
                n = len(site.locations)
                out.append(
                    f"{client.file}: {where}.alert.quorum: site {site.id} needs {quorum} "
                    f"nodes to agree but its locations list {n}, so it can never be declared "
                    f"down or up — lower alert.quorum to at most {n}, or add nodes to locations"
                )
            if sqlite:
                if site.locations is not None:
                    unused.append(f"{where}.locations")
                if quorum is not None:
                    unused.append(f"{where}.alert.quorum")
        if unused:
            out.append(f"{client.file}: {', '.join(unused)} {SQLITE_ONLY_NODE}")
    return out


__all__ = ["SQLITE_ONLY_NODE", "cluster_warnings"]
