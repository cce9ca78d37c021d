"""The suite-wide guard of tests/conftest.py is in force."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import _allowed


def test_the_guard_refuses_an_address_beyond_loopback() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s,
        pytest.raises(ConnectionRefusedError, match="beyond loopback"),
    ):
        s.connect(("169.254.169.254", 80))
    assert _allowed(("127.0.0.2", 80)) and _allowed(("::1", 80, 0, 0))
