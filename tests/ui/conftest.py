"""The real app on the local host (Azurite behind it) and a real headless Chromium in front of it.

The host checks function keys as Azure does: the page (`/api/ui...`) is anonymous, every API
route it calls needs the function key. The `page` fixture is the page of an analyst who has
given that key in this tab (it sits in sessionStorage, where the page keeps it); the key test
starts without one. HTTP calls from the tests send the key (`key_header`).

Chromium and its driver come from Debian (`chromium`, `chromium-driver`). When they are missing,
the session fixture installs them with apt-get (about 30 s, as root, which CI is); if that fails,
the browser tests fail. They never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from devhost.azurite import Azurite
from devhost.host import DevHost
from tests.app_env import APP, app_folder, app_settings, keyed

ROOT = Path(__file__).resolve().parents[2]
HUB = "StockMemoUI"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Each run writes its screenshots here (git-ignored); docs/screenshots holds the reviewed copies.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
# Long enough that the page, polling every Retry-After (2 s), sees gathering_evidence live.
MARKET_LATENCY_MS = "3500"

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-sync",
    "--lang=en-US",
    "--force-device-scale-factor=1",
)


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver unless both are there."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.fail("chromium is missing and apt-get is not available to install it")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-qq"],
                    [apt, "install", "-y", "-qq", "chromium", "chromium-driver"]):
        result = subprocess.run(command, env=environment, capture_output=True, text=True,
                                timeout=900, check=False)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed ({result.returncode}):\n"
                        f"{result.stderr[-4000:]}")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("apt-get finished but /usr/bin/chromium or /usr/bin/chromedriver is missing")


@pytest.fixture(scope="session")
def chromium() -> Path:
    ensure_chromium()
    return CHROMIUM


@pytest.fixture(scope="module")
def app_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_folder(tmp_path_factory.mktemp("ui-app"), HUB)


@contextmanager
def app_host(azurite: Azurite, root: Path, **settings: str) -> Iterator[DevHost]:
    """The real app on the local host, its workers started with these settings."""
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(patch, azurite.connection_string, **settings):
            with DevHost(APP, root=root, port=0) as running:
                yield running


@pytest.fixture(scope="module")
def host(azurite: Azurite, app_root: Path) -> Iterator[DevHost]:
    with app_host(azurite, app_root, SIMULATED_LATENCY_MS=MARKET_LATENCY_MS) as running:
        yield running


@pytest.fixture(scope="module")
def api(host: DevHost) -> requests.Session:
    """Calls to the function-level API, with the host's function key."""
    return keyed(host)


def new_driver(width: int = 1280, height: int = 1000) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def browser(chromium: Path, host: DevHost) -> Iterator[Any]:
    """One Chromium for the module; each test starts from a fresh page and empty storage."""
    driver = new_driver()
    try:
        yield driver
    finally:
        driver.quit()


KEY_STORE = "stockmemo.functionKey"  # where the page keeps the key (sessionStorage, app.js)


def open_page(browser: Any, host: DevHost, key: str | None) -> None:
    """The analyst page, loaded fresh, with this origin's storage emptied first and, with a
    `key`, that key already given in this tab (as the page's key form stores it)."""
    browser.get(f"{host.base_url}/api/ui")
    browser.execute_script("localStorage.clear(); sessionStorage.clear();")
    if key is not None:
        browser.execute_script("sessionStorage.setItem(arguments[0], arguments[1]);",
                               KEY_STORE, key)
    browser.get(f"{host.base_url}/api/ui")


@pytest.fixture
def page(browser: Any, host: DevHost) -> Any:
    """The analyst page, loaded fresh with empty storage but the tab's function key."""
    browser.set_window_size(1280, 1000)
    open_page(browser, host, host.function_key)
    browser.get_log("browser")  # start each test with an empty console log
    return browser
