"""Support contracts: the monthly hours allowance, its ledger, and the time entries behind it.

* :mod:`monitord.contracts.models`: the ``billing:`` (monitord.yml) and ``contract:``
  (clients/<client>.yml) configuration sections;
* :mod:`monitord.contracts.ledger`: the pure ledger (allowance, rollover, carried overuse,
  charges), with ``now`` passed in;
* :mod:`monitord.contracts.store`: time entries and issued statements in the state store.

docs/contracts.md explains the terms and the formulas with worked examples.
"""
