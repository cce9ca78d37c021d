"""Fixtures for the ticket tests: loopback SMTP, log capture, the test CA."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.helpers.daemon import site  # noqa: E402, F401
from tests.helpers.secrets import captured_logs  # noqa: E402, F401
from tests.helpers.smtp import smtp_server, smtp_server_factory  # noqa: E402, F401
from tests.helpers.tls import test_ca  # noqa: E402, F401
