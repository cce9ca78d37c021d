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

HELPDESK_KEYS = {
    "freshdesk_company_id": "freshdesk",
    "jira_project": "jira",
    "redmine_project": "redmine",
}
"""``contract.helpdesk`` key → the notifier type it pulls time entries through."""


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
    notifiers = main.get("notifiers") if main is not None else None
    types = {
        str(n.get("type"))
        for n in (notifiers.values() if isinstance(notifiers, dict) else [])
        if isinstance(n, dict)
    }
    claimed: dict[tuple[str, str], str] = {}
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
        helpdesk = contract.get("helpdesk")
        for key, value in helpdesk.items() if isinstance(helpdesk, dict) else []:
            kind = HELPDESK_KEYS.get(str(key))
            if kind is None:
                continue  # an unknown key is reported by the model
            if main is not None and kind not in types:
                issues.at(
                    doc,
                    ("contract", "helpdesk", str(key)),
                    f"{key} needs a `{kind}` notifier to pull time entries from, but "
                    "monitord.yml has none",
                    f"add one under `notifiers:` (type: {kind}; docs/notifiers.md), or remove "
                    f"{key}",
                    key=True,
                )
            owner = claimed.setdefault((str(key), str(value)), doc.file)
            if owner != doc.file:
                issues.at(
                    doc,
                    ("contract", "helpdesk", str(key)),
                    f"{key} {value} is also the helpdesk link of {owner}",
                    "link each organisation or project to one client, so its time is billed once",
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
