"""Checks of ``contract:`` sections against monitord.yml's ``billing:``, on the data as written
(so they run even when other settings are wrong), located like every configuration error."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from monitord.durations import parse_duration

if TYPE_CHECKING:
    from monitord.config.issues import Issues
    from monitord.config.nodes import Doc

DEFAULT_MINIMUM = timedelta(hours=2)


def _duration(value: Any) -> timedelta | None:
    try:
        return parse_duration(value) if isinstance(value, str | int) else None
    except ValueError:
        return None  # reported by the model


def check_contracts(main_doc: Doc | None, client_docs: list[Doc], issues: Issues) -> None:
    """A contract needs ``billing:``; no allowance below ``billing.minimum_monthly``; no two
    clients share a page token."""
    main = main_doc.data if main_doc is not None and isinstance(main_doc.data, dict) else None
    billing = main.get("billing") if main is not None else None
    minimum: timedelta | None = DEFAULT_MINIMUM
    if isinstance(billing, dict) and "minimum_monthly" in billing:
        minimum = _duration(billing["minimum_monthly"])
    tokens: dict[str, str] = {}
    for doc in client_docs:
        data = doc.data if isinstance(doc.data, dict) else {}
        contract = data.get("contract")
        if not isinstance(contract, dict):
            continue
        if main is not None and billing is None:
            issues.at(
                doc,
                ("contract",),
                "a contract needs the agency's rates, but monitord.yml has no `billing` section",
                'add `billing: {currency: GBP, hourly_rate: "120.00", vat: 20%}` to monitord.yml',
                key=True,
            )
        allowances: list[tuple[tuple[str | int, ...], Any]] = [
            (("contract", "monthly_hours"), contract.get("monthly_hours"))
        ]
        changes = contract.get("changes")
        for i, change in enumerate(changes if isinstance(changes, list) else []):
            if isinstance(change, dict):
                allowances.append(
                    (("contract", "changes", i, "monthly_hours"), change.get("monthly_hours"))
                )
        for path, value in allowances:
            given = _duration(value)
            if minimum is not None and given is not None and timedelta(0) < given < minimum:
                issues.at(
                    doc,
                    path,
                    f"{value} is below the agency's minimum monthly allowance "
                    f"({billing.get('minimum_monthly', '2h') if isinstance(billing, dict) else '2h'})",
                    "raise it, or lower billing.minimum_monthly in monitord.yml",
                )
        token = contract.get("page_token")
        if isinstance(token, str) and token:
            if token in tokens:
                issues.at(
                    doc,
                    ("contract", "page_token"),
                    f"the same page_token as {tokens[token]}",
                    "give every client its own token, so one client cannot read another's hours",
                )
            else:
                tokens[token] = doc.file
