"""`vidcolor serve`'s page in a real browser: headless Chromium driven by Selenium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them where apt can)
and the ``selenium`` package; skips cleanly without them. The server is a real uvicorn with the
fake model (``VIDCOLOR_SERVE_BROWSER_MODEL=shipped`` uses the shipped one). The screenshot is
saved in the test's folder and copied to ``/tmp/serve_screenshot.png``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from support import EXAMPLE_PHOTO  # noqa: E402

SCREENSHOT_COPY = Path("/tmp/serve_screenshot.png")
TOKEN = "s3cret-token-for-tests"

# How colourful the shown result is: mean |R-G| + |G-B| over its pixels, read from a canvas
# (the result is a same-origin blob: URL, so the canvas may be read).
_CHROMA_JS = """
const img = document.getElementById(arguments[0]);
if (!img.complete || !img.naturalWidth) return null;
const c = document.createElement("canvas");
c.width = img.naturalWidth; c.height = img.naturalHeight;
const ctx = c.getContext("2d"); ctx.drawImage(img, 0, 0);
const d = ctx.getImageData(0, 0, c.width, c.height).data;
let s = 0;
for (let i = 0; i < d.length; i += 4) s += Math.abs(d[i] - d[i + 1]) + Math.abs(d[i + 1] - d[i + 2]);
return {width: c.width, height: c.height, chroma: s / (d.length / 4),
        visible: img.getBoundingClientRect().width > 0};
"""


def chromium() -> webdriver.Chrome:
    """Headless Chromium, or a skip saying why there is none."""
    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver")
         if os.path.exists(p)), None)
    if binary is None or driver is None:
        pytest.skip("no chromium and chromium-driver (apt-get install chromium chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not download drivers
    options = Options()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1100,1300", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    try:
        return webdriver.Chrome(service=Service(driver), options=options)
    except WebDriverException as e:
        pytest.skip(f"chromium does not start here: {(e.msg or str(e)).splitlines()[0]}")


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def page_state(driver) -> str:
    return driver.execute_script("return document.body.dataset.state")


def drop_file(driver, path: Path, timeout: float = 120, until=("done", "error")) -> str:
    """Choose a file in the page's file input; wait until the page is done with it."""
    driver.find_element(By.ID, "file").send_keys(str(path))
    WebDriverWait(driver, timeout).until(lambda d: page_state(d) in until)
    return driver.find_element(By.ID, "message").text


def click_and_wait(driver, button_id: str, until=("done", "error"), timeout: float = 120) -> str:
    """Click a button of the page; wait until its state is one of ``until``."""
    driver.execute_script("document.body.dataset.state = 'clicked'")
    driver.find_element(By.ID, button_id).click()
    WebDriverWait(driver, timeout).until(lambda d: page_state(d) in until)
    return driver.find_element(By.ID, "message").text


def test_page_colours_a_photo_and_a_film(tmp_path, browser, live_server, make_clip):
    data = tmp_path / "data"
    data.mkdir()
    shipped = os.environ.get("VIDCOLOR_SERVE_BROWSER_MODEL") == "shipped"
    server = live_server(data, delay=None if shipped else 0.0, token=TOKEN, segment_frames=8)
    browser.get(f"{server.url}/#token={TOKEN}")
    WebDriverWait(browser, 30).until(
        lambda d: "model" in d.find_element(By.ID, "server-info").text)
    assert "token" not in browser.current_url  # handed over, then taken out of the address

    message = drop_file(browser, EXAMPLE_PHOTO)
    assert page_state(browser) == "done", message
    shown = browser.execute_script(_CHROMA_JS, "after")
    assert shown["visible"] and (shown["width"], shown["height"]) == (451, 300)
    assert shown["chroma"] > 5, shown  # the result is shown, and it is not grey
    before = browser.execute_script(_CHROMA_JS, "before")
    assert before["chroma"] < 2  # the original beside it is
    link = browser.find_element(By.ID, "photo-download")
    assert link.get_attribute("href").startswith("blob:")
    assert link.get_attribute("download") == "chelsea_grey_colour.jpg"
    browser.save_screenshot(str(tmp_path / "photo.png"))
    shutil.copyfile(tmp_path / "photo.png", SCREENSHOT_COPY)

    clip = make_clip(tmp_path / "reel.mp4", n=24, size=(96, 128))
    message = drop_file(browser, clip, until=("film-ready", "error"))
    assert page_state(browser) == "film-ready", message
    message = click_and_wait(browser, "film-run")
    assert page_state(browser) == "done", message
    assert browser.find_element(By.ID, "film-download").get_attribute("download") == \
        "reel_colour.mp4"
    assert "Done" in browser.find_element(By.ID, "film-status").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#jobs tr")
    assert [r.text.split("\n")[0] for r in rows][:1] and "reel.mp4" in rows[0].text
    browser.save_screenshot(str(tmp_path / "film.png"))
