"""The fault-injection suite: the real ``monitord run`` under store, SMTP, crash, notifier, API
and hostile-input faults (see harness.py, cases.py and docs/reliability.md)."""
