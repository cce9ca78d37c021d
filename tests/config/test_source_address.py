"""A check's ``source_address``: an IP address in its one spelling, refused where it cannot
apply (the located messages themselves are golden: invalid/source-address)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitord.config.models import HttpCheck, TcpCheck, TlsCheck


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("192.0.2.10", "192.0.2.10"),
        ("2001:DB8:0::10", "2001:db8::10"),
        (" 127.0.0.2 ", "127.0.0.2"),
    ],
)
def test_an_address_is_kept_in_its_one_spelling(written: str, kept: str) -> None:
    checks = [
        HttpCheck.model_validate({"type": "http", "source_address": written}),
        TlsCheck.model_validate({"type": "tls", "source_address": written}),
        TcpCheck.model_validate({"type": "tcp", "port": 22, "source_address": written}),
    ]
    assert [c.source_address for c in checks] == [kept] * 3


def test_no_source_address_by_default() -> None:
    assert HttpCheck.model_validate({"type": "http"}).source_address is None


@pytest.mark.parametrize("written", ["example.org", "192.0.2.300", "0.0.0.0", "::", "224.0.0.1"])
def test_what_cannot_be_a_source_is_refused(written: str) -> None:
    with pytest.raises(ValidationError, match="source_address"):
        HttpCheck.model_validate({"type": "http", "source_address": written})
