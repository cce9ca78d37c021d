"""Suite-wide safety: no test ever opens a connection beyond this machine.

Tests talk to real servers on 127.0.0.0/8 and ::1 only. A regression in code that is meant
to refuse an address (a redirect to 169.254.169.254, say) must fail its test here, not send
a packet off the machine; so every socket ``connect`` to any other address is refused for the
whole session, raising the same error a firewall's reject would.
"""

from __future__ import annotations

import _socket
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _allowed(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and other families stay on the machine
    host = address[0]
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False  # a name: connect() never resolves, refuse to be safe
    return ip.is_loopback or (
        ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback
    )


def _guarded_connect(self: _socket.socket, address: Any) -> None:
    if not _allowed(address):
        raise ConnectionRefusedError(
            111, f"tests may not connect beyond loopback (refused {address!r})"
        )
    _real_connect(self, address)


def _guarded_connect_ex(self: _socket.socket, address: Any) -> int:
    if not _allowed(address):
        return 111
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = _real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


# A throwaway PostgreSQL, one per session, for every test that asks (tests/helpers/postgres.py).
from tests.helpers.postgres import (  # noqa: E402, F401
    postgres_server,
    postgres_store_factory,
    postgres_url,
)
