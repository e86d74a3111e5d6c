"""The real function app, with every log record of its worker process kept for the test.

Installed at import, before the real app is loaded: a root handler at DEBUG (as the test's own
process has) writing each formatted record to the Board's `logs` folder. The worker quiets the
`azure` loggers to WARNING for its console; here they are opened again, so the Azure SDKs'
request logging reaches the handler as it did when the app ran in the test's process.
"""

from __future__ import annotations

import logging

from tests.control import Board
from tests.real_app import real_app
from tests.trust.log_capture import EverythingToFile, capture_root

LOGS = "logs"

capture_root(EverythingToFile(Board.from_environment().folder / LOGS))
logging.getLogger("azure").setLevel(logging.NOTSET)
app = real_app()
