"""The page's guidance in a real browser (headless Chromium, Selenium): hints put by clicking a
photo, with a preview after each change; a film's keyframes exported, one coloured there with a
hint, and the film run with it.

Needs what ``test_serve_browser.py`` needs (skips cleanly without it). Screenshots of the hint
and keyframe screens are saved in the test's folder, and also in ``$VIDCOLOR_SCREENS`` when
that names a folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("selenium")
pytest.importorskip("httpx")
from PIL import Image  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from vidcolor import color  # noqa: E402

TOKEN = "s3cret-token-for-tests"
RED = "#ff0000"

# The mean colour (R, G, B) of a box of a shown picture, in its own pixels, from a canvas (the
# picture is a same-origin blob: URL, so the canvas may be read).
_MEAN_JS = """
const [id, x0, y0, x1, y1] = arguments;
const img = document.getElementById(id);
if (!img.complete || !img.naturalWidth) return null;
const c = document.createElement("canvas");
c.width = img.naturalWidth; c.height = img.naturalHeight;
const ctx = c.getContext("2d"); ctx.drawImage(img, 0, 0);
const X0 = Math.round(x0 * c.width), X1 = Math.round(x1 * c.width);
const Y0 = Math.round(y0 * c.height), Y1 = Math.round(y1 * c.height);
const d = ctx.getImageData(X0, Y0, X1 - X0, Y1 - Y0).data;
const sum = [0, 0, 0];
for (let i = 0; i < d.length; i += 4) { sum[0] += d[i]; sum[1] += d[i + 1]; sum[2] += d[i + 2]; }
const n = d.length / 4;
return sum.map((s) => s / n);
"""
_SET_COLOUR_JS = """
const c = document.getElementById("hint-colour");
c.value = arguments[0]; c.dispatchEvent(new Event("input"));
"""
# The two halves of the test picture, away from the edge down its middle.
LEFT, RIGHT = (0.05, 0.1, 0.4, 0.9), (0.6, 0.1, 0.95, 0.9)




def two_regions(path: Path, h: int = 240, w: int = 320) -> Path:
    """A grey picture of two flat halves, dark (L 35) and light (L 75): a strong edge."""
    L = np.full((h, w), 35.0, np.float32)
    L[:, w // 2:] = 75.0
    Image.fromarray(color.lab_to_rgb(L, np.zeros((h, w, 2), np.float32))).save(path)
    return path


def redness(rgb) -> float:
    """Lab a of a mean colour: above 50 is clearly red."""
    pixel = np.clip(np.round(np.asarray(rgb, np.float32)), 0, 255).astype(np.uint8)
    return float(color.rgb_to_lab(pixel.reshape(1, 1, 3))[1][0, 0, 0])


def state(driver) -> str:
    return driver.execute_script("return document.body.dataset.state")


def wait_state(driver, until, timeout: float = 120) -> str:
    WebDriverWait(driver, timeout).until(lambda d: state(d) in until)
    return driver.find_element(By.ID, "message").text


def wait_preview(driver, hints: str, after: int = 0, timeout: float = 60) -> int:
    """Wait until the preview shown is the one of ``hints`` hints (a count), asked for after
    preview number ``after``; its number."""
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(
        "const p = document.getElementById('preview');"
        "return document.body.dataset.preview === 'ready' && p.dataset.hints === arguments[0]"
        " && Number(p.dataset.version) > arguments[1]", hints, after))
    return int(driver.find_element(By.ID, "preview").get_attribute("data-version"))


def click_picture(driver, fx: float, fy: float) -> None:
    """Click the hint picture at a fraction of its shown width and height."""
    picture = driver.find_element(By.ID, "guide-picture")
    box = picture.rect
    ActionChains(driver).move_to_element_with_offset(
        picture, int((fx - 0.5) * box["width"]), int((fy - 0.5) * box["height"])).click().perform()


def screenshot(driver, tmp_path: Path, name: str, element_id: str) -> None:
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", element_id)
    driver.save_screenshot(str(tmp_path / name))
    folder = os.environ.get("VIDCOLOR_SCREENS")
    if folder and Path(folder).is_dir():
        shutil.copyfile(tmp_path / name, Path(folder) / name)


@pytest.fixture
def page(tmp_path, live_server):
    import test_serve_browser

    driver = test_serve_browser.chromium()
    data = tmp_path / "data"
    data.mkdir()
    # Previews smaller than the test picture: the page sends a copy at that size, with its
    # hints scaled to it.
    server = live_server(data, token=TOKEN, segment_frames=8, preview_size=160)
    driver.get(f"{server.url}/#token={TOKEN}")
    WebDriverWait(driver, 30).until(
        lambda d: "model" in d.find_element(By.ID, "server-info").text)
    yield driver, server
    driver.quit()


def test_a_red_hint_click_turns_its_region_red_not_the_one_across_the_edge(page, tmp_path):
    driver, _ = page
    driver.find_element(By.ID, "file").send_keys(str(two_regions(tmp_path / "halves.png")))
    assert wait_state(driver, ("done", "error")) and state(driver) == "done"
    wait_preview(driver, "0")
    auto = {side: driver.execute_script(_MEAN_JS, "after", *box)
            for side, box in (("left", LEFT), ("right", RIGHT))}
    auto_preview = driver.execute_script(_MEAN_JS, "preview", *RIGHT)

    assert driver.execute_script("return guide.small && guide.small.width") == 160
    driver.execute_script(_SET_COLOUR_JS, RED)
    click_picture(driver, 0.25, 0.5)
    wait_preview(driver, "1")
    rows = driver.find_elements(By.CSS_SELECTOR, "#hint-list li")
    assert len(rows) == 1
    x, y = (int(v) for v in re.match(r"x (\d+), y (\d+)", rows[0].text).groups())
    assert abs(x - 80) <= 2 and abs(y - 120) <= 2, rows[0].text  # the pixel clicked
    left = driver.execute_script(_MEAN_JS, "preview", *LEFT)
    right = driver.execute_script(_MEAN_JS, "preview", *RIGHT)
    assert redness(left) > 50 > redness(auto["left"]) + 20, (left, auto)
    assert np.abs(np.subtract(right, auto_preview)).max() < 3, (right, auto_preview)
    screenshot(driver, tmp_path, "hints.png", "guide")

    # At full size, as downloaded: the same.
    driver.execute_script("document.body.dataset.state = 'clicked'")
    driver.find_element(By.ID, "guide-apply").click()
    assert wait_state(driver, ("done", "error")) and state(driver) == "done"
    left = driver.execute_script(_MEAN_JS, "after", *LEFT)
    right = driver.execute_script(_MEAN_JS, "after", *RIGHT)
    assert redness(left) > 50 and np.abs(np.subtract(right, auto["right"])).max() < 3

    # Dragged across the edge, the hint colours the other half instead.
    version = wait_preview(driver, "1")
    mark = driver.find_element(By.CSS_SELECTOR, "#marks .mark")
    width = driver.find_element(By.ID, "guide-picture").rect["width"]
    ActionChains(driver).drag_and_drop_by_offset(mark, int(width / 2), 0).perform()
    version = wait_preview(driver, "1", after=version)
    x = int(re.match(r"x (\d+)", driver.find_element(By.CSS_SELECTOR, "#hint-list li").text
                     .strip()).group(1))
    assert abs(x - 240) <= 3
    assert redness(driver.execute_script(_MEAN_JS, "preview", *LEFT)) < 50
    assert redness(driver.execute_script(_MEAN_JS, "preview", *RIGHT)) > \
        redness(auto_preview) + 30

    # Removing the hint gives the automatic colours back.
    driver.find_element(By.CSS_SELECTOR, "#hint-list li button").click()
    wait_preview(driver, "0", after=version)
    right = driver.execute_script(_MEAN_JS, "preview", *RIGHT)
    assert np.abs(np.subtract(right, auto_preview)).max() < 3


def test_keyframes_exported_coloured_in_the_page_and_used(page, tmp_path, make_clip,
                                                          read_video):
    import httpx

    driver, server = page
    clip = make_clip(tmp_path / "reel.mp4", n=24, size=(96, 128), cut_at=12)
    driver.find_element(By.ID, "file").send_keys(str(clip))
    assert wait_state(driver, ("film-ready", "error")) and state(driver) == "film-ready"
    driver.find_element(By.ID, "export-keyframes").click()
    message = wait_state(driver, ("keyframes", "error"))
    assert state(driver) == "keyframes", message
    cards = driver.find_elements(By.CSS_SELECTOR, "#keyframes .keyframe")
    assert [c.get_attribute("data-name") for c in cards][:2] == ["00-00-00.000.png",
                                                                "00-00-00.500.png"]
    cards[1].find_element(By.XPATH, ".//button[text()='colour']").click()
    wait_preview(driver, "0")
    driver.execute_script(_SET_COLOUR_JS, RED)
    click_picture(driver, 0.5, 0.5)
    wait_preview(driver, "1")
    driver.find_element(By.ID, "guide-apply").click()
    assert wait_state(driver, ("keyframe-set", "error")) and state(driver) == "keyframe-set"
    coloured = driver.find_elements(By.CSS_SELECTOR, "#keyframes .keyframe")[1]
    assert "coloured" in coloured.text
    screenshot(driver, tmp_path, "keyframes.png", "film-setup")

    # A colour copy with its offset, and a reference photo, go with it.
    copy = make_clip(tmp_path / "print.mp4", n=24, size=(48, 64))
    driver.find_element(By.ID, "colour-from").send_keys(str(copy))
    offset = driver.find_element(By.ID, "colour-offset")
    offset.clear()
    offset.send_keys("2")
    driver.find_element(By.ID, "film-references").send_keys(
        str(two_regions(tmp_path / "still.png")))
    assert "colour copy: print.mp4" in driver.find_element(By.ID, "film-files").text

    driver.find_element(By.ID, "film-run").click()
    message = wait_state(driver, ("done", "error"))
    assert state(driver) == "done", message
    assert driver.find_element(By.ID, "film-download").get_attribute("download") == \
        "reel_colour.mp4"
    jobs = httpx.get(f"{server.url}/api/v1/jobs", headers=server.auth()).json()["jobs"]
    film = next(j for j in jobs if j["kind"] == "video")
    assert [k["time"] for k in film["options"]["keyframes"]] == [0.5]
    assert film["options"]["colour_from"]["offset"] == 2
    assert [r["path"] for r in film["options"]["references"]] == ["reference-0.png"]
    # The keyframe's red holds over its shot (from the cut at frame 12), not the one before.
    result = tmp_path / "result.mp4"
    result.write_bytes(httpx.get(server.url + film["result"], headers=server.auth()).content)
    _, frames = read_video(result)
    a = [float(color.rgb_to_lab(f)[1][..., 0].mean()) for f in frames]
    assert min(a[12:]) > max(a[:12]) + 10, a
