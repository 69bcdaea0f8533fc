"""A real gateway (gunicorn over SQLite and the session's Redis, no workers) and a real headless Chromium.

The browser is Debian's ``chromium`` driven by Selenium through Debian's ``chromedriver``; both paths are given
explicitly, so Selenium Manager never looks for (or downloads) a browser or a driver.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from sqlalchemy.orm import Session, sessionmaker

from services.processes import ProcessGroup, free_port, gateway_command, http_ok, wait_until
from shared.db.migrate import upgrade
from shared.db.session import make_engine, make_session_factory
from tests.unit.gateway.test_ops_page import isolated_broker

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BROKER_DB = 7  # a Redis database of its own: the queue depths asserted are this module's messages only


@dataclass
class OpsServer:
    base_url: str
    broker_url: str
    session_factory: sessionmaker[Session]
    group: ProcessGroup

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture(scope="module")
def ops_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsServer]:
    """The gateway under gunicorn (two worker processes sharing the secret key) over a fresh SQLite database."""
    tmp = tmp_path_factory.mktemp("ops-server")
    database_url = f"sqlite:///{tmp / 'rxlab.sqlite3'}"
    upgrade(database_url)
    broker_url = isolated_broker(redis_url, BROKER_DB)
    env = {
        **os.environ,
        "RXLAB_ENV": "test",
        "RXLAB_DATABASE_URL": database_url,
        "RXLAB_BROKER_URL": broker_url,
        "RXLAB_BLOB_ROOT": str(tmp / "blobs"),
        "RXLAB_SECRET_KEY": secrets.token_hex(32),
    }
    group = ProcessGroup(log_dir=tmp / "logs")
    port = free_port()
    engine = make_engine(database_url)
    try:
        group.start("gateway", gateway_command(bind=f"127.0.0.1:{port}", workers=2), env=env)
        try:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=30, what="gateway")
        except TimeoutError:
            raise AssertionError(f"the gateway did not start:\n{group.log_tail('gateway')}") from None
        yield OpsServer(f"http://127.0.0.1:{port}", broker_url, make_session_factory(engine), group)
    finally:
        group.stop_all()
        engine.dispose()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium with a throw-away profile; it makes no request beyond the test's loopback server."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install the Debian packages chromium and chromium-driver")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(argument)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
