"""The billing and contract sections as loaded from files, and the terms made from them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from monitord.config.loader import load_config
from monitord.contracts.ledger import Terms
from monitord.contracts.models import Month


def _load(tmp_path: Path, billing: str, contract: str) -> Terms:
    (tmp_path / "clients").mkdir()
    (tmp_path / "monitord.yml").write_text("agency: {name: Collective}\n" + billing)
    (tmp_path / "clients" / "acme.yml").write_text(
        "client: acme\nname: ACME\nsites: []\ncontacts:\n"
        "  - {name: Jo, email: jo@acme.example, notify: [hours, report]}\n" + contract
    )
    (tmp_path / "monitord.yml").write_text(
        (tmp_path / "monitord.yml").read_text() + 'smtp: {from: "m <m@collective.example>"}\n'
    )
    config = load_config(tmp_path)
    billing_cfg = config.main.billing
    contract_cfg = config.clients[0].contract
    assert billing_cfg is not None and contract_cfg is not None
    assert config.clients[0].contacts[0].notify == ("hours", "report")
    return Terms.from_config(billing_cfg, contract_cfg)


def test_the_issues_example_loads_exactly(tmp_path: Path) -> None:
    terms = _load(
        tmp_path,
        'billing:\n  currency: GBP\n  hourly_rate: "120.00"\n  day_hours: 7h\n'
        '  day_rate: "840.00"\n  vat: 20%\n  minimum_monthly: 2h\n',
        "contract:\n  start: 2026-01\n  monthly_hours: 10h\n"
        "  changes: [{from: 2026-07, monthly_hours: 15h}]\n  rollover_cap: 2\n"
        "  carry_overuse_up_to: 1h\n  rounding: 15m\n"
        "  page_token: a-long-enough-token-0123456789\n",
    )
    assert terms == Terms(
        start=Month(2026, 1),
        allowances=((Month(2026, 1), 600), (Month(2026, 7), 900)),
        rollover_cap=Decimal(2),
        carry_overuse_up_to=60,
        rounding=15,
        day_minutes=420,
        hourly_rate=Decimal("120.00"),
        day_rate=Decimal("840.00"),
        vat_rate=Decimal("0.20"),
        currency="GBP",
        thresholds=(Decimal("0.75"), Decimal("1.00")),
    )
    assert terms.allowance(Month(2026, 6)) == 600 and terms.allowance(Month(2027, 1)) == 900


@pytest.mark.parametrize(
    "billing,contract,hourly,day,vat",
    [
        # no day rate anywhere: day_hours x the hourly rate
        ('  hourly_rate: "100.00"\n  vat: 20%\n', "", "100.00", "700.00", "0.20"),
        ('  hourly_rate: "100.00"\n  day_hours: 7h30m\n  vat: 20%\n', "", "100.00", "750.00", "0.20"),
        # the contract's own hourly rate, no day rate: day_hours x its rate
        ('  hourly_rate: "120.00"\n  vat: 20%\n', '  hourly_rate: "90.00"\n', "90.00", "630.00", "0.20"),
        # the standard day rate applies unless the contract says otherwise
        ('  hourly_rate: "120.00"\n  day_rate: "800.00"\n  vat: 20%\n', '  hourly_rate: "150.00"\n', "150.00", "800.00", "0.20"),
        ('  hourly_rate: "120.00"\n  day_rate: "800.00"\n  vat: 20%\n', '  day_rate: "700.00"\n  vat: 0%\n', "120.00", "700.00", "0"),
        ('  hourly_rate: "120"\n  vat: 17.5%\n', "", "120.00", "840.00", "0.175"),
    ],
)  # fmt: skip
def test_rates_a_contract_overrides(
    tmp_path: Path, billing: str, contract: str, hourly: str, day: str, vat: str
) -> None:
    terms = _load(
        tmp_path,
        "billing:\n" + billing,
        "contract:\n  start: 2026-01\n  monthly_hours: 10h\n" + contract,
    )
    assert (terms.hourly_rate, terms.day_rate, terms.vat_rate) == (
        Decimal(hourly),
        Decimal(day),
        Decimal(vat),
    )
