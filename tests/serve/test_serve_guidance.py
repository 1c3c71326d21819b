"""`vidcolor serve` with guidance: hints (JSON or painted), reference photos, keyframes (and
their export), a colour copy, and quick previews; through FastAPI's TestClient, fake model.
"""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
pytest.importorskip("httpx")

from support import FakeColorizer  # noqa: E402
from vidcolor import color  # noqa: E402
from vidcolor.options import ImageOptions, VideoOptions  # noqa: E402

RED = "#ff0000"


def two_regions(h: int = 120, w: int = 160) -> np.ndarray:
    """A grey picture of two flat halves, dark (L 35) left and light (L 75) right: a strong
    edge down the middle."""
    L = np.full((h, w), 35.0, np.float32)
    L[:, w // 2:] = 75.0
    return color.lab_to_rgb(L, np.zeros((h, w, 2), np.float32))


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def picture_of(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def hints_json(*points) -> str:
    return json.dumps({"points": [{"x": x, "y": y, "radius": 2, "color": c}
                                  for x, y, c in points]})


def redness(rgb: np.ndarray) -> float:
    """Mean a (Lab) of a region: above 50 is clearly red (the fake model's own colours are
    below 30 on these pictures)."""
    return float(color.rgb_to_lab(np.ascontiguousarray(rgb))[1][..., 0].mean())


def wait_job(client, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['state']}")


def post(client, path: str, data: dict | None = None, files: list | None = None,
         picture: bytes | None = None):
    parts = [("file", ("scan.png", picture or png(two_regions()), "image/png")), *(files or [])]
    return client.post(path, data=data or {}, files=parts)


# --- hints -----------------------------------------------------------------------------------

def test_a_red_hint_colours_its_region_and_not_the_one_across_the_edge(client):
    auto = picture_of(post(client, "/api/v1/colorize").content)
    r = post(client, "/api/v1/colorize", {"hints": hints_json((40, 60, RED))})
    assert r.status_code == 200, r.text
    hinted = picture_of(r.content)
    assert redness(hinted[:, :70]) > 50 > redness(auto[:, :70]) + 20
    assert np.abs(hinted[:, 90:].astype(int) - auto[:, 90:]).max() <= 2
    # The lightness stays the input's.
    assert np.abs(color.rgb_to_l(hinted) - color.rgb_to_l(two_regions())).max() < 1


def test_a_painted_hint_image_works_as_the_json(client):
    scribble = np.zeros((120, 160, 4), np.uint8)
    scribble[50:70, 30:50] = (255, 0, 0, 255)
    r = post(client, "/api/v1/colorize", files=[("hints_image", ("s.png", png(scribble)))])
    assert r.status_code == 200, r.text
    assert redness(picture_of(r.content)[:, :70]) > 50


def test_preview_is_small_coloured_and_keeps_the_networks_colours(make_client):
    model = FakeColorizer()
    client = make_client(model=model, preview_size=80)
    first = post(client, "/api/v1/preview", {"hints": hints_json((40, 60, RED))})
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    shown = picture_of(first.content)
    assert shown.shape == (60, 80, 3)
    assert redness(shown[:, :30]) > 50 and redness(shown[:, 50:]) < 0
    calls = model.calls
    moved = post(client, "/api/v1/preview", {"hints": hints_json((120, 60, RED))})
    refused = post(client, "/api/v1/preview", {"tile": "64"})
    assert refused.status_code == 422 and "tile: not taken by a preview" in refused.text
    assert model.calls == calls  # a moved hint: the network is not asked again
    # The light half turned from the model's cyan to red, as far as its lightness allows.
    assert redness(picture_of(moved.content)[:, 50:]) > 25


def test_job_with_hints_keeps_them_for_its_run(client):
    r = post(client, "/api/v1/jobs", {"hints": hints_json((40, 60, RED))})
    job = wait_job(client, r.json()["id"])
    assert job["state"] == "done", job
    assert redness(picture_of(client.get(job["result"]).content)[:, :70]) > 50


def test_a_large_picture_keeps_its_guidance_when_it_becomes_a_job(make_client):
    client = make_client(sync_pixels=1000)
    photo = png(np.full((30, 40, 3), (200, 40, 30), np.uint8))
    r = post(client, "/api/v1/colorize", {"hints": hints_json((40, 60, RED))},
             [("references", ("still.png", photo))])
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    assert job["state"] == "done", job
    assert redness(picture_of(client.get(job["result"]).content)[:, :70]) > 50
    options = ImageOptions.from_dict(client.app.state.manager.get(job["id"]).options)
    assert open(options.references[0].path, "rb").read() == photo  # moved with the job


@pytest.mark.parametrize("data, files, status, message", [
    ({"hints": "{bad"}, [], 422, "hints: bad JSON"),
    ({"hints": '{"dots": []}'}, [], 422, 'hints: expected {"points"'),
    ({"hints": hints_json((400, 10, RED))}, [], 422, "outside the 160x120 picture"),
    ({"hints": hints_json((4, 10, "red"))}, [], 422, "bad colour 'red'"),
    ({"hints": hints_json(*[(i, 1, RED) for i in range(4)])}, [], 422,
     "hints: too many points (4; at most 3)"),
    ({"hints": hints_json((4, 10, RED))}, [("hints_image", ("s.png", png(two_regions())))],
     422, "give hints or hints_image, not both"),
    ({}, [("hints_image", ("s.png", b"not a picture"))], 415, "hints_image: s.png:"),
    ({}, [("hints_image", ("s.png", png(two_regions(10, 10))))], 422,
     "hints_image: s.png is 10x10, the picture is 160x120"),
    ({}, [("references", ("r.txt", b"hello"))], 415, "references: r.txt:"),
    ({}, [("references", ("r.png", png(two_regions())))] * 3, 422,
     "references: too many files (at most 2)"),
    ({}, [("keyframes", ("00-00-01.000.png", png(two_regions())))], 422,
     "keyframes applies to films only"),
    ({}, [("poster", ("p.png", png(two_regions())))], 422, "send exactly one file"),
    ({"colour_offset": "3"}, [], 422, "colour_offset applies to films only"),
])
def test_bad_guidance_is_a_one_line_json_error(make_client, data, files, status, message):
    client = make_client(max_hints=3, max_references=2)
    r = post(client, "/api/v1/colorize", data, files)
    assert r.status_code == status and set(r.json()) == {"error"}, r.text
    error = r.json()["error"]
    assert message in error and "\n" not in error and "/data/" not in error, error


# --- references, keyframes, a colour copy: passed into the options --------------------------

def test_reference_photos_reach_the_picture_options(client, tmp_path):
    photo = png(np.full((30, 40, 3), (200, 40, 30), np.uint8))
    r = post(client, "/api/v1/jobs", files=[("references", ("still.png", photo)),
                                            ("references", ("place.png", photo))])
    assert r.status_code == 202, r.text
    shown = r.json()["options"]["references"]
    assert [ref["path"] for ref in shown] == ["reference-0.png", "reference-1.png"]
    job = wait_job(client, r.json()["id"])
    record = client.app.state.manager.get(job["id"])
    options = ImageOptions.from_dict(record.options)
    assert len(options.references) == 2 and options.references[0].time is None
    assert open(options.references[1].path, "rb").read() == photo


def test_keyframes_references_and_colour_copy_reach_the_film_options(client, make_clip,
                                                                     tmp_path):
    film = make_clip(tmp_path / "reel.mp4", n=12, size=(48, 64)).read_bytes()
    copy = make_clip(tmp_path / "copy.mp4", n=12, size=(24, 32)).read_bytes()
    key = png(np.full((48, 64, 3), (180, 60, 40), np.uint8))
    r = client.post("/api/v1/jobs", data={"keyframe_times": "0.25", "colour_offset": "-2"},
                    files=[("file", ("reel.mp4", film)), ("keyframes", ("mine.png", key)),
                           ("references", ("still.png", key)),
                           ("colour_from", ("print.mp4", copy))])
    assert r.status_code == 202, r.text
    record = client.app.state.manager.get(r.json()["id"])
    options = VideoOptions.from_dict(record.options)
    assert [k.time for k in options.keyframes] == [0.25]
    assert options.colour_from.offset == -2
    assert open(options.colour_from.path, "rb").read() == copy
    assert len(options.references) == 1
    assert r.json()["options"]["colour_from"]["path"] == "colour-copy.mp4"
    assert wait_job(client, r.json()["id"])["state"] == "done"


@pytest.mark.parametrize("data, name, message", [
    ({}, "mine.png", "keyframes: mine.png: give its time in keyframe_times"),
    ({"keyframe_times": "1,2"}, "mine.png", "keyframe_times: 2 times for 1 keyframes files"),
    ({"keyframe_times": "soon"}, "mine.png", "keyframe_times: not a time"),
    ({"colour_offset": "2"}, "00-00-00.250.png", "colour_offset needs a colour_from file"),
])
def test_bad_film_guidance_is_a_one_line_json_error(client, make_clip, tmp_path, data, name,
                                                    message):
    film = make_clip(tmp_path / "reel.mp4", n=6, size=(48, 64)).read_bytes()
    key = png(np.full((48, 64, 3), 90, np.uint8))
    r = client.post("/api/v1/jobs", data=data, files=[("file", ("reel.mp4", film)),
                                                      ("keyframes", (name, key))])
    assert r.status_code == 422 and message in r.json()["error"], r.text


def test_keyframe_export_then_a_film_with_a_coloured_one(client, make_clip, tmp_path):
    film = make_clip(tmp_path / "reel.mp4", n=24, size=(48, 64), cut_at=12).read_bytes()
    r = client.post("/api/v1/keyframes", files={"file": ("reel.mp4", film)})
    assert r.status_code == 202 and r.json()["kind"] == "keyframes", r.text
    job = wait_job(client, r.json()["id"])
    assert job["state"] == "done" and job["result"].endswith("/keyframes"), job
    listed = client.get(job["result"]).json()["keyframes"]
    assert [k["name"] for k in listed][:2] == ["00-00-00.000.png", "00-00-00.500.png"]
    assert listed[1]["time"] == 0.5
    grey = picture_of(client.get(listed[1]["url"]).content)
    assert grey.shape == (48, 64, 3) and np.ptp(grey.astype(int), axis=-1).max() <= 1
    assert client.get(f"/api/v1/jobs/{job['id']}/keyframes/..%2Fjobs.sqlite3").status_code \
        == 404
    assert client.get(f"/api/v1/jobs/{job['id']}/result").status_code == 409
    # The keyframe coloured (by a photo request with a hint) goes back with the film.
    coloured = client.post("/api/v1/colorize", data={"hints": hints_json((30, 20, RED))},
                           files={"file": (listed[1]["name"], png(grey))})
    r = client.post("/api/v1/jobs", files=[("file", ("reel.mp4", film)),
                                           ("keyframes", (listed[1]["name"], coloured.content))])
    assert r.status_code == 202, r.text
    assert [k["time"] for k in r.json()["options"]["keyframes"]] == [0.5]
    assert wait_job(client, r.json()["id"])["state"] == "done"


def test_keyframe_export_takes_films_only(client):
    r = post(client, "/api/v1/keyframes")
    assert r.status_code == 415 and "films" in r.json()["error"]


def test_guidance_documented_in_the_openapi_page(client):
    paths = client.get("/openapi.json").json()["paths"]

    def fields(path):
        body = paths[path]["post"]["requestBody"]["content"]["multipart/form-data"]
        return body["schema"]["properties"]

    assert "--hints" in fields("/api/v1/colorize")["hints"]["description"]
    assert fields("/api/v1/colorize")["references"]["type"] == "array"
    jobs = fields("/api/v1/jobs")
    assert {"keyframes", "keyframe_times", "colour_from", "colour_offset"} <= set(jobs)
    assert all(spec.get("description") for spec in jobs.values())
    assert set(fields("/api/v1/preview")) == {"file", "hints", "hints_image", "references",
                                              "render_size"}
    assert set(fields("/api/v1/keyframes")) == {"file"}
    assert "/api/v1/jobs/{job_id}/keyframes/{name}" in paths
