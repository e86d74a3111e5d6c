"""The real function app, with yfinance's session factory switched to the test's FakeYahoo
(through the relay in tests/e2e/yahoo_switch.py), so yfinance's own request and parsing code
runs in the worker against the test's scripted Yahoo."""

from __future__ import annotations

from tests.e2e import yahoo_switch
from tests.real_app import real_app

yahoo_switch.install()
app = real_app()
