"""`vidcolor serve`: the REST API through FastAPI's TestClient and a real uvicorn, fake model.

Skipped when the serve extra (FastAPI, uvicorn, python-multipart) or httpx is not installed.
"""

from __future__ import annotations

import io
import re
import threading
import time
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("python_multipart")
httpx = pytest.importorskip("httpx")

from support import SlowColorizer  # noqa: E402
from vidcolor import cli, color  # noqa: E402
from vidcolor.errors import VidcolorError  # noqa: E402
from vidcolor.imageio import read_provenance  # noqa: E402
from vidcolor.serve.config import ServeConfig, parse_size  # noqa: E402

TOKEN = "s3cret-token-for-tests"


# --- helpers ---------------------------------------------------------------------------------

def grey_picture(h: int = 60, w: int = 80, dtype=np.uint8) -> np.ndarray:
    """A grey picture with some structure (a gradient and a disc)."""
    y, x = np.mgrid[:h, :w]
    v = 0.2 + 0.6 * x / w + 0.2 * ((x - w / 2) ** 2 + (y - h / 2) ** 2 < (h / 3) ** 2)
    top = np.iinfo(dtype).max
    return np.repeat((v * top).astype(dtype)[..., None], 3, axis=-1)


def encode(rgb: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    if rgb.dtype == np.uint16:
        import tifffile

        tifffile.imwrite(buf, rgb, photometric="rgb")
    else:
        Image.fromarray(rgb).save(buf, fmt)
    return buf.getvalue()


def decoded(data: bytes) -> np.ndarray:
    import tifffile

    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return tifffile.imread(io.BytesIO(data))
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return bgr[..., ::-1]


def chroma(rgb: np.ndarray) -> float:
    rgb = rgb.astype(np.float64)
    return float(np.abs(rgb[..., 0] - rgb[..., 2]).mean() + np.abs(rgb[..., 0] - rgb[..., 1]).mean())


def wait_job(client, job_id: str, until=("done", "failed"), timeout: float = 60,
             headers: dict | None = None) -> list[dict]:
    """Poll a job until its state is one of `until`; every job JSON seen, in order."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        seen.append(job)
        if job.get("state") in until:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {seen[-1]} after {timeout} s")


def frames_of(data: bytes, suffix: str, tmp_path: Path) -> list[np.ndarray]:
    path = tmp_path / f"result{suffix}"
    path.write_bytes(data)
    with av.open(str(path)) as c:
        comment = c.metadata.get("comment", "")
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert "colorized by vidcolor" in comment
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory, make_clip) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "reel.mp4", n=40, size=(48, 64),
                     audio=True)


# --- pictures --------------------------------------------------------------------------------

def test_picture_in_colour_picture_out(client):
    grey = grey_picture()
    r = client.post("/api/v1/colorize", files={"file": ("scan.png", encode(grey), "image/png")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert 'filename="scan_colour.png"' in r.headers["content-disposition"]
    assert r.headers["x-vidcolor-provenance"].endswith("model fake")
    out = decoded(r.content)
    assert out.shape == grey.shape and out.dtype == np.uint8
    assert np.abs(color.rgb_to_l(out) - color.rgb_to_l(grey)).max() < 0.5  # same lightness
    assert chroma(out) > 5  # and colour
    assert read_provenance(io.BytesIO(r.content)).endswith("model fake")


def test_format_and_bit_depth_kept_unless_asked(client):
    deep = grey_picture(dtype=np.uint16)
    r = client.post("/api/v1/colorize", files={"file": ("deep.tif", encode(deep), "image/tiff")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/tiff"
    out = decoded(r.content)
    assert out.dtype == np.uint16 and out.shape == deep.shape
    r = client.post("/api/v1/colorize?format=png",
                    files={"file": ("deep.tif", encode(deep), "image/tiff")})
    assert r.headers["content-type"] == "image/png"
    assert decoded(r.content).dtype == np.uint16  # PNG keeps the 16 bits
    r = client.post("/api/v1/colorize", data={"format": "jpeg"},
                    files={"file": ("a.png", encode(grey_picture()), "image/png")})
    assert r.headers["content-type"] == "image/jpeg" and r.content[:3] == b"\xff\xd8\xff"


def test_large_picture_becomes_a_job(make_client):
    client = make_client(sync_pixels=1000)
    r = client.post("/api/v1/colorize", files={"file": ("big.png", encode(grey_picture()),
                                                        "image/png")})
    assert r.status_code == 202
    job = wait_job(client, r.json()["id"])[-1]
    assert job["state"] == "done" and r.headers["location"].endswith(job["id"])
    assert decoded(client.get(job["result"]).content).shape == (60, 80, 3)


def test_picture_job_and_restart_keeps_results(make_client, tmp_path):
    client = make_client()
    r = client.post("/api/v1/jobs", files={"file": ("p.jpg", encode(grey_picture(), "JPEG"),
                                                    "image/jpeg")}, data={"render_size": "48"})
    assert r.status_code == 202
    job = wait_job(client, r.json()["id"])[-1]
    assert job["state"] == "done" and job["options"]["render_size"] == 48
    client.__exit__(None, None, None)  # the server stops...
    again = make_client()  # ...and a new one on the same data folder still has it
    r = again.get(job["result"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert [j["id"] for j in again.get("/api/v1/jobs").json()["jobs"]] == [job["id"]]


# --- films -----------------------------------------------------------------------------------

def test_film_job_progress_then_download(make_client, clip, tmp_path):
    client = make_client(model=SlowColorizer(0.05), segment_frames=8, batch_size=4)
    r = client.post("/api/v1/jobs", files={"file": ("reel.mp4", clip.read_bytes(), "video/mp4")},
                    data={"preset": "ultrafast", "stabilize_strength": "0.5"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "video" and job["progress"]["total"] == 40
    assert job["options"]["stabilize_strength"] == 0.5
    seen = wait_job(client, job["id"])
    done = [j["progress"]["done"] for j in seen]
    assert seen[-1]["state"] == "done", seen[-1]
    assert done == sorted(done) and len(set(done)) >= 3  # progress seen going up
    running = [j["progress"] for j in seen if j["state"] == "running" and j["progress"]["fps"]]
    assert running and running[-1]["eta_seconds"] is not None
    r = client.get(seen[-1]["result"])
    assert r.headers["content-type"] == "video/mp4"
    frames = frames_of(r.content, ".mp4", tmp_path)
    assert len(frames) == 40 and frames[0].shape == (48, 64, 3)
    assert chroma(frames[10]) > 5


def test_cancel_removes_the_job_and_its_files(make_client, clip, tmp_path):
    client = make_client(model=SlowColorizer(0.2), segment_frames=4, batch_size=2)
    job = client.post("/api/v1/jobs", files={"file": ("reel.mp4", clip.read_bytes())}).json()
    wait_job(client, job["id"], until=("running",))
    folder = tmp_path / "data" / "jobs" / job["id"]
    assert folder.is_dir()
    assert client.delete(f"/api/v1/jobs/{job['id']}").json() == {"deleted": job["id"]}
    assert client.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert client.get("/api/v1/jobs").json()["jobs"] == []
    deadline = time.monotonic() + 20
    while folder.exists() and time.monotonic() < deadline:  # the worker stops at a frame
        time.sleep(0.05)
    assert not folder.exists()
    assert client.delete(f"/api/v1/jobs/{job['id']}").status_code == 404


# --- a real server, killed mid-job -----------------------------------------------------------

def test_restart_mid_film_continues_the_job(tmp_path, clip, live_server):
    data = tmp_path / "data"
    data.mkdir()
    server = live_server(data, delay=0.08, segment_frames=8, batch_size=2, workers=1)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        job = http.post("/api/v1/jobs", files={"file": ("reel.mp4", clip.read_bytes())},
                        data={"preset": "ultrafast"}).json()
        wait = lambda until: wait_job(http, job["id"], until=until, timeout=120)  # noqa: E731
        while wait(("running", "done"))[-1]["progress"]["done"] < 18:  # two segments done
            time.sleep(0.05)
    server.kill()  # no goodbye: the job is left "running" in the database
    server = live_server(data, delay=0.0, segment_frames=8, batch_size=2, workers=1)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        final = wait_job(http, job["id"], timeout=120)[-1]
        assert final["state"] == "done", final
        assert final["attempts"] == 2 and final["resumed_frames"] >= 16
        frames = frames_of(http.get(final["result"]).content, ".mp4", tmp_path)
    assert len(frames) == 40


def test_live_server_refuses_large_uploads_early(tmp_path, live_server):
    from benchmarks.serve import stream_upload

    data = tmp_path / "data"
    data.mkdir()
    server = live_server(data, max_upload=1_000_000, token=TOKEN)
    size = 64_000_000
    for declare in (True, False):
        status, body, sent = stream_upload("127.0.0.1", server.port, "/api/v1/jobs", size,
                                           declare_length=declare, token=TOKEN)
        assert status == 413 and "at most 1 MB" in body["error"], (declare, status, body)
        assert sent < size // 4, (declare, sent)  # refused while the client was still sending
    assert list((data / "jobs").iterdir()) == []
    status, body, _ = stream_upload("127.0.0.1", server.port, "/api/v1/jobs", 10)
    assert status == 401


# --- what is refused -------------------------------------------------------------------------

def test_upload_too_large_413(make_client, tmp_path):
    client = make_client(max_upload=20_000)
    big = encode(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    r = client.post("/api/v1/jobs", files={"file": ("big.png", big, "image/png")})
    assert r.status_code == 413 and r.json()["error"].startswith("upload too large")
    # Without a Content-Length (chunked): refused once the limit is passed.
    boundary = "xyzzy"
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
             f"filename=\"big.png\"\r\n\r\n".encode(), big, f"\r\n--{boundary}--\r\n".encode()]
    r = client.post("/api/v1/colorize", content=(p for p in parts),
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413
    assert list((tmp_path / "data" / "jobs").iterdir()) == []
    assert list((tmp_path / "data" / "tmp").iterdir()) == []


@pytest.mark.parametrize("name, data", [
    ("notes.txt", b"just some text\n" * 20),
    ("page.png", b"<!doctype html><html><body>hi</body></html>"),  # the name lies
    ("archive.zip", b"PK\x03\x04" + bytes(100)),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + bytes(40)),
])
def test_not_a_picture_or_film_415(client, name, data):
    r = client.post("/api/v1/jobs", files={"file": (name, data, "image/png")})
    assert r.status_code == 415 and "not a picture" in r.json()["error"]


def test_sniffed_not_named(client):
    # A PNG called .mp4 and sent as video/mp4 is a picture all the same.
    r = client.post("/api/v1/colorize", files={"file": ("clip.mp4", encode(grey_picture()),
                                                        "video/mp4")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    r = client.post("/api/v1/colorize", content=b"raw bytes", headers={"Content-Type":
                                                                      "image/png"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]


def png_bomb(side: int) -> bytes:
    """A PNG of ``side`` x ``side`` black grey pixels: a few hundred KB that decode to
    ``side**2`` bytes."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + \
            zlib.crc32(kind + body).to_bytes(4, "big")

    z = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte + pixels
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + \
        chunk(b"IEND", b"")


def test_decompression_bomb_refused_before_decoding(client):
    bomb = png_bomb(12_000)  # 144 megapixels in about 140 KB
    assert len(bomb) < 1_000_000
    r = client.post("/api/v1/colorize", files={"file": ("bomb.png", bomb, "image/png")})
    assert r.status_code == 413
    assert r.json() == {"error": "picture too large: 12000 x 12000 = 144 megapixels, the "
                                 "server takes at most 100"}


def multipart(filename: bytes, data: bytes, boundary: str = "b0undary") -> tuple[bytes, dict]:
    """A multipart body with the file name's bytes as they are (HTTP clients escape them)."""
    body = (b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n\r\n"
            % (boundary.encode(), filename)) + data + b"\r\n--%s--\r\n" % boundary.encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize("name, shown", [
    (b"../../evil.png", "evil.png"), (b"/etc/passwd", "passwd"), (b"..\\..\\win.png", "win.png"),
    (b"a\x00\x07b\x1b\tc.png", "abc.png"), (b"..", "upload"), (b"", "upload"),
    ("\u00e9t\u00e9 1900.png".encode(), "\u00e9t\u00e9 1900.png"),
])
def test_path_like_file_names_never_become_paths(make_client, tmp_path, name, shown):
    client = make_client()
    body, headers = multipart(name, encode(grey_picture()))
    r = client.post("/api/v1/jobs", content=body, headers=headers)
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])[-1]
    assert job["name"] == shown and job["state"] == "done"
    r = client.get(job["result"])
    disposition = r.headers["content-disposition"]
    assert r.status_code == 200 and "\n" not in disposition and "\x00" not in disposition
    assert "/" not in disposition.split("filename", 1)[1] and ".." not in disposition
    assert sorted(p.name for p in (tmp_path / "data" / "jobs" / job["id"]).iterdir()) == \
        ["input.png", "result.png"]
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "data" / "evil.png").exists()


def test_job_ids_are_unguessable_and_checked(client):
    ids = {client.post("/api/v1/jobs", files={"file": ("a.png", encode(grey_picture()))})
           .json()["id"] for _ in range(3)}
    assert len(ids) == 3 and all(len(i) == 22 for i in ids)
    for bad in ("..%2F..%2Fjobs.sqlite3", "x" * 22 + "%00", "AAAAAAAAAAAAAAAAAAAAAA"):
        r = client.get(f"/api/v1/jobs/{bad}/result")
        assert r.status_code == 404 and set(r.json()) == {"error"}


@pytest.mark.parametrize("fields, message", [
    ({"render_size": "abc"}, "render_size must be an integer"),
    ({"render_size": "0"}, "render size must be an integer >= 1"),
    ({"stabilize": "yes"}, "stabilize applies to films only"),
    ({"colour": "red"}, "unknown form field 'colour'"),
    ({"hints": "[]"}, "hints: expected {\"points\": [...]}"),
    ({"format": "gif"}, "format must be one of"),
])
def test_options_checked_by_the_option_values(client, fields, message):
    r = client.post("/api/v1/jobs", data=fields,
                    files={"file": ("a.png", encode(grey_picture()), "image/png")})
    assert r.status_code == 422 and message in r.json()["error"], r.json()


def test_film_options_checked(client, clip):
    for fields, message in (({"stabilize_strength": "2"}, "stabilize-strength must be in"),
                            ({"start": "-1"}, "start"), ({"crf": "x"}, "crf must be")):
        r = client.post("/api/v1/jobs", data=fields, files={"file": ("r.mp4", clip.read_bytes())})
        assert r.status_code == 422 and message in r.json()["error"], r.json()
    r = client.post("/api/v1/colorize", files={"file": ("r.mp4", clip.read_bytes())})
    assert r.status_code == 415 and "/api/v1/jobs" in r.json()["error"]


def test_option_errors_name_the_form_field_not_the_flag(client, clip):
    # The library's message says --crf to the command line; a web client sent the field crf.
    for fields, message in (({"crf": "99"}, "crf must be at most 63, got 99"),
                            ({"start": "2000000"}, "start must be a time from 0"),
                            ({"preset": "a b"}, "preset must be an FFmpeg name")):
        r = client.post("/api/v1/jobs", data=fields, files={"file": ("r.mp4", clip.read_bytes())})
        error = r.json()["error"]
        assert r.status_code == 422 and error.startswith(message) and "--" not in error, error
    # Refused only once the job runs (the encoder's own check): the job's error too.
    r = client.post("/api/v1/jobs", data={"codec": "mpeg4", "crf": "10"},
                    files={"file": ("r.mp4", clip.read_bytes())})
    failed = wait_job(client, r.json()["id"])[-1]
    assert failed["state"] == "failed"
    assert failed["error"] == "crf 10: the mpeg4 encoder has no constant rate factor"


def test_token_required_on_every_api_call(make_client):
    client = make_client(token=TOKEN)
    good = {"Authorization": f"Bearer {TOKEN}"}
    for method, path in (("get", "/api/v1/jobs"), ("get", "/api/v1/info"),
                         ("post", "/api/v1/colorize"), ("delete", "/api/v1/jobs/x")):
        r = getattr(client, method)(path)
        assert r.status_code == 401 and r.json()["error"].startswith("missing or wrong token")
        assert r.headers["www-authenticate"] == "Bearer"
    wrong = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 401
    assert client.get("/api/v1/jobs", headers=good).status_code == 200
    r = client.post("/api/v1/colorize", headers=good,
                    files={"file": ("a.png", encode(grey_picture()), "image/png")})
    assert r.status_code == 200
    assert client.get("/").status_code == 200  # the page itself asks for the token


def test_network_host_needs_a_token(tmp_path):
    with pytest.raises(VidcolorError, match="--token"):
        ServeConfig(tmp_path, host="0.0.0.0")
    with pytest.raises(VidcolorError, match="at least 12"):
        ServeConfig(tmp_path, host="0.0.0.0", token="short")
    assert ServeConfig(tmp_path, host="0.0.0.0", token=TOKEN).token == TOKEN
    assert ServeConfig(tmp_path, host="::1").token is None
    assert parse_size("500MB") == 500_000_000 and parse_size("2GB") == 2_000_000_000
    assert parse_size("64MiB") == 64 << 20 and parse_size("1234") == 1234
    with pytest.raises(VidcolorError):
        parse_size("lots")


def test_other_sites_and_host_names_refused(client):
    r = client.post("/api/v1/jobs", headers={"Origin": "http://evil.example"},
                    files={"file": ("a.png", encode(grey_picture()))})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    r = client.get("/api/v1/jobs", headers={"Host": "rebound.evil.example:8000"})
    assert r.status_code == 403
    assert client.get("/api/v1/jobs", headers={"Origin": "http://127.0.0.1"}).status_code == 200


def test_errors_are_one_line_json(make_client, clip):
    client = make_client(model=SlowColorizer(fail=True))
    r = client.post("/api/v1/colorize", files={"file": ("a.png", encode(grey_picture()))})
    assert r.status_code == 500
    assert r.json() == {"error": "internal error (see the server's log)"}
    job = client.post("/api/v1/jobs", files={"file": ("a.png", encode(grey_picture()))}).json()
    failed = wait_job(client, job["id"])[-1]
    assert failed["state"] == "failed" and failed["error"] == "internal error (see the " \
                                                              "server's log)"
    assert client.get(failed["result"] or f"/api/v1/jobs/{job['id']}/result").status_code == 409
    for r, status in ((client.put("/api/v1/jobs"), 405), (client.get("/api/v2/x"), 404)):
        assert r.status_code == status and set(r.json()) == {"error"}


def test_jpeg_with_alpha_is_a_clear_422(client):
    rgba = np.dstack([grey_picture(), np.full((60, 80), 128, np.uint8)])
    r = client.post("/api/v1/colorize?format=jpeg", files={"file": ("a.png", encode(rgba))})
    assert r.status_code == 422 and "alpha" in r.json()["error"]
    assert "/data/" not in r.json()["error"]  # the server's paths are not shown


def test_busy_server_answers_503_with_retry_after(make_client, clip):
    client = make_client(model=SlowColorizer(0.3), workers=1, queue=1, batch_size=1)
    codes = [client.post("/api/v1/jobs", files={"file": ("r.mp4", clip.read_bytes())})
             for _ in range(3)]
    assert [r.status_code for r in codes] == [202, 202, 503]
    assert codes[2].headers["retry-after"] == "5" and "busy" in codes[2].json()["error"]
    for r in codes[:2]:
        client.delete(f"/api/v1/jobs/{r.json()['id']}")


def test_event_loop_never_waits_for_colorization(make_client):
    client = make_client(model=SlowColorizer(0.5))
    thread = threading.Thread(target=lambda: client.post(
        "/api/v1/colorize", files={"file": ("a.png", encode(grey_picture()))}))
    thread.start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    assert client.get("/api/v1/info").json()["tasks"] == 1  # the picture is being coloured...
    assert time.perf_counter() - t0 < 0.5  # ...and the server still answers at once
    thread.join()


def test_page_served_from_the_package(client):
    r = client.get("/")
    assert r.status_code == 200 and "<title>vidcolor</title>" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        assert r.status_code == 200 and not re.search(r"https?://(?!host)", r.text)
    assert "/api/v1/colorize" in client.get("/openapi.json").text
    # FastAPI's /docs (Swagger UI from its CDN) is the one page allowed anything else.
    assert "cdn.jsdelivr.net" in client.get("/docs").headers["content-security-policy"]
    assert "cdn" not in client.get("/api/v1/info").headers["content-security-policy"]


def test_cli_serve_without_the_extra_says_how_to_install(monkeypatch, capsys):
    import vidcolor.serve

    monkeypatch.setattr(vidcolor.serve, "missing_extra", lambda: ["fastapi"])
    assert cli.main(["serve"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install "vidcolor[serve]"' in err


def test_cli_serve_refuses_a_network_host_without_token(monkeypatch, capsys):
    monkeypatch.delenv("VIDCOLOR_TOKEN", raising=False)
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 1
    assert "--token" in capsys.readouterr().err
