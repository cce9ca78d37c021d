"""Which node this daemon is, and the address its probes bind to.

Pure: the command line, the environment and the host name are passed in. The id is, first
found: ``monitord run --node ID``, ``$MONITORD_NODE``, ``node.id`` in monitord.yml, the host
name (lower-cased and made a valid id). An id the operator typed (``--node``,
``$MONITORD_NODE``) must be a valid id as written: a silently altered one would be a second
node beside the intended one. The source address is ``nodes.<id>.source_address``, else
``node.source_address``, else none (the system chooses).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from monitord.config.models import MainConfig
from monitord.errors import MonitordError

NODE_ENV = "MONITORD_NODE"

NODE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
"""A node id: the configuration's id pattern (``monitord.config.models.Ident``)."""

NODE_ID_MAX_CHARS = 63
"""The longest id (the Ident pattern's); a longer host name is cut to it."""


class NodeIdError(MonitordError, ValueError):
    """A node id given on the command line or in the environment is not a valid id."""


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    id: str
    source_address: str | None
    """The address probes bind to; None: the system chooses."""
    chosen_by: str
    """Where the id came from: ``--node``, ``$MONITORD_NODE``, ``node.id in monitord.yml``
    or ``the host name`` (for the start-up log)."""


def sanitise_hostname(hostname: str) -> str:
    """A host name as a node id: lower-cased, every character an id may not hold replaced by
    ``-``, leading ones an id may not start with removed, cut to NODE_ID_MAX_CHARS; ``""`` when
    nothing is left."""
    name = re.sub(r"[^a-z0-9_.-]", "-", hostname.strip().lower())
    name = name.lstrip("_.-")[:NODE_ID_MAX_CHARS]
    return name


def _typed(value: str, where: str) -> str:
    if not NODE_ID.match(value):
        raise NodeIdError(
            f"{where} {value!r} is not a valid node id; use 1 to {NODE_ID_MAX_CHARS} lower-case "
            "letters, digits, '-', '_' or '.', starting with a letter or digit, such as lon-1"
        )
    return value


def resolve_node_arg(text: str) -> str:
    """``--node``'s value, when it is a valid node id (else :class:`NodeIdError`)."""
    return _typed(text, "--node")


def resolve_node(
    cli: str | None, env: Mapping[str, str], config: MainConfig, hostname: str
) -> NodeIdentity:
    """This daemon's node id and source address (see the module's order).

    ``cli`` is ``--node`` (None when not given); ``env`` the environment (an empty
    ``$MONITORD_NODE`` counts as unset); ``hostname`` the host's name (``socket.gethostname()``).
    Raises :class:`NodeIdError` for an invalid ``--node`` or ``$MONITORD_NODE``, or when the
    host name leaves nothing to use."""
    from_env = env.get(NODE_ENV) or None
    if cli is not None:
        node, chosen_by = resolve_node_arg(cli), "--node"
    elif from_env is not None:
        node, chosen_by = _typed(from_env, f"${NODE_ENV}"), f"${NODE_ENV}"
    elif config.node.id is not None:
        node, chosen_by = config.node.id, "node.id in monitord.yml"
    else:
        node, chosen_by = sanitise_hostname(hostname), "the host name"
        if not node:
            raise NodeIdError(
                f"the host name {hostname!r} gives no node id; name this node with "
                f"--node ID, ${NODE_ENV} or node.id in monitord.yml (e.g. lon-1)"
            )
    peer = config.nodes.get(node)
    source = peer.source_address if peer is not None else None
    if source is None:
        source = config.node.source_address
    return NodeIdentity(node, source, chosen_by)


def location_labels(config: MainConfig) -> dict[str, str]:
    """Node id to its ``nodes.<id>.location``, for the nodes that have one: what
    :func:`monitord.cluster.quorum.verdict`'s ``labels`` names them by in messages."""
    return {n: peer.location for n, peer in config.nodes.items() if peer.location is not None}


__all__ = [
    "NODE_ENV",
    "NodeIdError",
    "NodeIdentity",
    "location_labels",
    "resolve_node",
    "resolve_node_arg",
    "sanitise_hostname",
]
