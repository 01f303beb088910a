"""The app in a real browser: ``forecaster app`` on 127.0.0.1, every page in headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``sudo apt-get install chromium
chromium-driver``) and selenium (the dev extra). Screenshots of every page are saved in the
test's temporary folder, and copied to ``tests/app/screenshots/`` when
``FORECASTER_KEEP_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.app.conftest import RUNNING
from tests.app.test_key_factors import write_outputs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ENABLE = "sudo apt-get install chromium chromium-driver"
KEEP = Path(__file__).with_name("screenshots")
#: url path -> texts the rendered page must show
PAGES = {
    "": ("Data", "Validated for run tiny: 4 batches ready"),
    "train": (
        "Train",
        "Harvest titer: MAPE (%) by the day the forecast was made",
        "Anomaly detection",
    ),
    "batches": ("Batches", "4 batches of new.csv predicted with run tiny", "1 running"),
    "batch": ("Batch", "harvest titer forecast", "Titer: measured and forecast", "culture day"),
    "compare": (
        "Compare",
        "Good batches",
        "golden envelope",
        "Where each batch leaves the envelope",
    ),
    "key_factors": (
        "Key factors and optimisation",
        "What drives harvest Titer",
        "Recommended recipe",
        "Feed plans of the running batches",
    ),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser_tools() -> None:
    """Skip (before training anything) when the browser or selenium is missing."""
    if not (CHROMIUM and DRIVER):
        pytest.skip(
            f"chromium / chromedriver not found: the browser test is off; to enable: {ENABLE}"
        )
    pytest.importorskip("selenium", reason="the browser test needs selenium (the dev extra)")


@pytest.fixture(scope="module")
def server(browser_tools, app_dirs, tmp_path_factory):
    """``forecaster app`` on a free port; its URL (stopped after the module)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "app.log"
    cmd = [sys.executable, "-m", "forecaster", "app", "--runs", str(app_dirs.runs), "--data",
           str(app_dirs.data_file), "--configs", str(Path(app_dirs.configs).resolve()), "--port", str(port)]  # fmt: skip
    home = tmp_path_factory.mktemp("home")  # the app's default results folder: home/results
    write_outputs(home / "results" / "optimize")
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=home)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
            assert proc.poll() is None, log.read_text()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser(server):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1800"):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def _settled(driver, texts: tuple[str, ...], timeout: float = 90.0) -> str:
    """The page's text once every expected text shows and the app stopped running."""
    from selenium.webdriver.common.by import By

    end = time.time() + timeout
    body = ""
    while time.time() < end:
        body = driver.find_element(By.TAG_NAME, "body").text
        running = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"] *')
        if all(t in body for t in texts) and not running:
            return body
        time.sleep(0.3)
    return body


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_without_an_exception(browser, server, path, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/{path}" + (f"?batch={RUNNING}" if path == "batch" else ""))
    body = _settled(browser, PAGES[path])
    for text in PAGES[path]:
        assert text in body, f"{text!r} not on /{path}"
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    assert "Traceback" not in body
    if path in (
        "batch",
        "compare",
        "train",
        "key_factors",
    ):  # plotly drew (its code loads after the text)
        end = time.time() + 30
        while not browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot") and time.time() < end:
            time.sleep(0.3)
        assert browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")
    time.sleep(0.5)  # let charts finish their transition before the picture
    shot = tmp_path / f"{path or 'data'}.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("FORECASTER_KEEP_SCREENSHOTS") == "1":
        KEEP.mkdir(exist_ok=True)
        shutil.copy(shot, KEEP / shot.name)


def test_the_column_map_assistant_in_the_browser(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server)
    _settled(browser, PAGES[""])
    summary = next(e for e in browser.find_elements(By.TAG_NAME, "summary")
                   if "Column map assistant" in e.text)  # fmt: skip
    summary.click()
    body = _settled(
        browser, ("Batch-id column", "reads with this map: 4 batches", "Save run config")
    )
    assert "reads with this map: 4 batches" in body and "Save run config" in body
    browser.execute_script("arguments[0].scrollIntoView();", summary)
    time.sleep(0.5)
    shot = tmp_path / "data_assistant.png"
    browser.save_screenshot(str(shot))
    if os.environ.get("FORECASTER_KEEP_SCREENSHOTS") == "1":
        KEEP.mkdir(exist_ok=True)
        shutil.copy(shot, KEEP / shot.name)
