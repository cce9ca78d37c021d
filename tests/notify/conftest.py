"""Fixtures for the notifier tests: the loopback SMTP server, the test CA, log capture."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # `tests.helpers` importable under plain `pytest` too
    sys.path.insert(0, _ROOT)

from tests.helpers.secrets import captured_logs  # noqa: E402, F401
from tests.helpers.smtp import smtp_server, smtp_server_factory  # noqa: E402, F401
from tests.helpers.tls import client_ssl_context, test_ca  # noqa: E402, F401
