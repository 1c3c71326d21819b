"""ONNX colorizers (DDColor's and DeOldify's conventions) as vidcolor models.

Each test builds a tiny network with fixed random weights in the convention of one project and
checks vidcolor's result against that project's own pre- and post-processing, written out here
from its code (numpy, OpenCV, Pillow; nothing of vidcolor's): DDColor's
``ddcolor/pipeline.py`` and DeOldify's ``deoldify/filters.py``. Both references join the
network's chroma with the input's own Lab L, as vidcolor always does (DeOldify itself joins in
YUV; README).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from support import EXAMPLE_PHOTO, tiny_onnx_colorizer as conv_net
from vidcolor import color
from vidcolor.colorize import colorize_image
from vidcolor.errors import VidcolorError
from vidcolor.models.runtimes import load_color_model
from vidcolor.video.frames import FrameColorizer
from vidcolor.video.stabilize import Stabilizer

S = 64  # the tiny networks' square
MEAN = np.float32([0.485, 0.456, 0.406])
STD = np.float32([0.229, 0.224, 0.225])


# --- tiny networks -----------------------------------------------------------------------------

def run_net(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


# --- the peers' own pipelines, written out ------------------------------------------------------

def ddcolor_reference(path, rgb8):
    """DDColor's ColorizationPipeline.process, in RGB order, joined with the original L."""
    h, w = rgb8.shape[:2]
    img = (rgb8 / 255.0).astype(np.float32)
    orig_l = cv2.cvtColor(img, cv2.COLOR_RGB2Lab)[:, :, :1]
    img_l = cv2.cvtColor(cv2.resize(img, (S, S)), cv2.COLOR_RGB2Lab)[:, :, :1]
    grey = cv2.cvtColor(np.concatenate([img_l, 0 * img_l, 0 * img_l], -1), cv2.COLOR_LAB2RGB)
    ab = run_net(path, grey.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0)
    rows = np.floor(np.arange(h) * (S / h)).astype(int)  # F.interpolate's default: nearest
    cols = np.floor(np.arange(w) * (S / w)).astype(int)
    ab = ab[rows][:, cols]
    return join(orig_l, ab), ab


def deoldify_reference(path, rgb8):
    """DeOldify's ColorizerFilter: stretch (Pillow bilinear), grey, ImageNet normalize, net,
    denormalize, 8 bits, stretch back; its chroma joined with the original L."""
    h, w = rgb8.shape[:2]
    model_image = Image.fromarray(rgb8).resize((S, S), Image.BILINEAR).convert("LA").convert("RGB")
    x = (np.asarray(model_image, np.float32) / 255.0 - MEAN) / STD
    out = run_net(path, x.transpose(2, 0, 1)[None].astype(np.float32))[0].transpose(1, 2, 0)
    out8 = (np.clip(out * STD + MEAN, 0, 1) * 255).astype(np.uint8)
    raw = np.asarray(Image.fromarray(out8).resize((w, h), Image.BILINEAR), np.float32) / 255.0
    orig_l = cv2.cvtColor((rgb8 / 255.0).astype(np.float32), cv2.COLOR_RGB2Lab)[:, :, :1]
    ab = cv2.cvtColor(raw, cv2.COLOR_RGB2Lab)[:, :, 1:]
    return join(orig_l, ab), ab


def join(L, ab):
    """The peers' join: Lab to RGB, clipped to 8 bits; the float RGB (before the clip) kept
    on the result as ``.unclipped`` (vidcolor reduces the chroma of colours sRGB cannot show
    instead of clipping them, smoothly over a pixel or two: there the two differ by design)."""
    rgb = cv2.cvtColor(np.concatenate([L, ab], -1).astype(np.float32), cv2.COLOR_LAB2RGB)
    out = (np.clip(rgb, 0, 1) * 255.0).round().astype(np.uint8)
    return Picture(out, rgb)


class Picture(np.ndarray):
    def __new__(cls, rgb8, unclipped):
        obj = np.asarray(rgb8).view(cls)
        obj.unclipped = unclipped
        return obj


REFERENCES = {"ddcolor": (2, ddcolor_reference), "deoldify": (3, deoldify_reference)}


def photo(h=S, w=S, offset=0, low=60, contrast=0.5):
    """A crop of the shipped grey photo, its levels kept in the middle (the tiny networks'
    chroma fits the sRGB gamut there, so no gamut fitting differs from the peers' clipping)."""
    grey = np.asarray(Image.open(EXAMPLE_PHOTO).convert("L"))
    crop = cv2.resize(grey[offset:offset + 4 * h, offset:offset + 4 * w], (w, h),
                      interpolation=cv2.INTER_AREA)
    return np.repeat((low + crop * contrast).astype(np.uint8)[..., None], 3, -1)


@pytest.fixture(params=sorted(REFERENCES))
def network(request, tmp_path):
    kind = request.param
    channels, reference = REFERENCES[kind]
    path = conv_net(tmp_path / f"{kind}.onnx", out_channels=channels,
                    gain=25.0 if channels == 2 else 0.4)
    return kind, path, reference


def max_diff(out, expected):
    """The largest difference in 8-bit levels where the reference's colour is well inside
    sRGB; such pixels must be most of the picture.

    Left out, by design: colours sRGB cannot show (the peers clip them, vidcolor reduces
    their chroma smoothly over a few pixels) and channels below 16 levels (where the sRGB
    curve is steep, OpenCV's float Lab, 0.19 L units from the exact L vidcolor keeps, moves a
    channel by 2 levels)."""
    inside = np.all((expected.unclipped > 16 / 255) & (expected.unclipped < 1), axis=-1)
    inside = cv2.erode(inside.astype(np.uint8), np.ones((9, 9), np.uint8),
                       borderType=cv2.BORDER_REPLICATE).astype(bool)
    assert inside.mean() > 0.8, "the test's network leaves the gamut too often"
    diff = np.abs(out.astype(int) - np.asarray(expected).astype(int)).max(axis=-1)
    return int(diff[inside].max())


# --- the conventions, end to end ---------------------------------------------------------------

def test_photo_matches_the_networks_own_pipeline(network):
    kind, path, reference = network
    model = load_color_model(path, kind=kind)
    rgb = photo()
    expected, _ = reference(path, rgb)
    out = colorize_image(rgb, model)
    assert np.abs(expected.astype(int) - 128).max() > 8  # the network does colour it
    assert max_diff(out, expected) <= 1


def assert_like_the_peer(kind, out, expected):
    """Within one 8-bit level of the peer's pipeline wherever its colour fits sRGB."""
    assert max_diff(out, expected) <= 1
    assert share_within_one(out, expected) == 1.0


def share_within_one(out, expected):
    inside = np.all((expected.unclipped > 16 / 255) & (expected.unclipped < 1), axis=-1)
    inside = cv2.erode(inside.astype(np.uint8), np.ones((9, 9), np.uint8),
                       borderType=cv2.BORDER_REPLICATE).astype(bool)
    diff = np.abs(out.astype(int) - np.asarray(expected).astype(int)).max(axis=-1)
    return float((diff[inside] <= 1).mean())


@pytest.mark.parametrize("shape", [(150, 230), (384, 512)])  # a photo; a still vidcolor tiles
def test_picture_size_matches_the_networks_own_pipeline(network, shape):
    """At the picture's own size: the network sees the picture stretched straight to its
    square and its chroma goes back by its own resize (``"upsample": "plain"``)."""
    kind, path, reference = network
    model = load_color_model(path, kind=kind)
    rgb = photo(*shape, offset=7)
    expected, _ = reference(path, rgb)
    assert_like_the_peer(kind, colorize_image(rgb, model), expected)


def test_picture_size_film_frames_match_without_stabilization(network):
    kind, path, reference = network
    model = load_color_model(path, kind=kind)
    big = photo(90, 140 + 3 * 5, low=80, contrast=0.35)
    frames = [np.ascontiguousarray(big[:, 3 * i:3 * i + 140]) for i in range(5)]
    outs = list(FrameColorizer(model, stabilizer=None).colorize_frames(frames, batch_size=4))
    for rgb, out in zip(frames, outs):
        assert_like_the_peer(kind, out, reference(path, rgb)[0])


def test_guided_upsampling_is_kept_on_request(network, tmp_path):
    """``"upsample": "guided"``: vidcolor's render and L-guided upsampling (the picture's own
    edges), which the peers' plain resize is not; the output keeps the input's L either way."""
    kind, path, reference = network
    (tmp_path / (path.name + ".json")).write_text(json.dumps({"upsample": "guided"}))
    guided = load_color_model(path, kind=kind)
    assert guided.resampler is None
    rgb = photo(150, 230, offset=7)
    out = colorize_image(rgb, guided)
    assert np.abs(color.rgb_to_l(out) - color.rgb_to_l(rgb)).max() < 0.6
    assert share_within_one(out, reference(path, rgb)[0]) < 0.9  # not the peer's resize
    with pytest.raises(VidcolorError, match="'upsample' must be plain or guided"):
        (tmp_path / (path.name + ".json")).write_text(json.dumps({"upsample": "bicubic"}))
        load_color_model(path, kind=kind)


def test_render_of_another_size_gets_the_networks_chroma(network):
    """At a size that is not the network's (here the render itself, 40 x 88), the model's
    a/b equal the reference's stretch to the square and back."""
    kind, path, reference = network
    model = load_color_model(path, kind=kind)
    rgb = photo(40, 88, offset=20)
    _, ab = reference(path, rgb)
    L = color.rgb_to_l(rgb)
    got = model.predict_ab(np.stack([L, L[::-1]]))
    assert got.shape == (2, 40, 88, 2)
    assert np.abs(got[0] - ab).max() < 1.5  # a/b units; under one 8-bit level here
    assert np.abs(got[1] - got[0]).max() > 0.5  # each frame its own


def test_large_still_is_seen_whole_not_tiled(network, monkeypatch):
    """A still the shipped model would tile: a fixed-size network sees it once, stretched
    to its square, with the reference's chroma there; the output keeps the input's L."""
    kind, path, reference = network
    model = load_color_model(path, kind=kind)
    rgb = photo(384, 512)
    calls = []
    predict = model.predict_ab
    monkeypatch.setattr(model, "predict_ab", lambda L, **kw: calls.append(L) or predict(L, **kw))
    out = colorize_image(rgb, model)
    assert len(calls) == 1 and calls[0].shape[0] == 1
    seen = color.l_to_grey_rgb(calls[0][0])  # what the network was shown, as a picture
    _, ab_seen = reference(path, seen)
    assert np.abs(predict(color.rgb_to_l(seen)[None])[0] - ab_seen).max() < 1.5
    assert np.abs(color.rgb_to_l(out) - color.rgb_to_l(rgb)).max() < 0.6


def film_frames(n=6):
    """A grey 'film': the photo panning by 3 pixels a frame (its levels narrower still)."""
    big = photo(S, S + 3 * n, low=80, contrast=0.35)
    return [np.ascontiguousarray(big[:, 3 * i:3 * i + S]) for i in range(n)]


def test_film_frames_match_without_stabilization(network):
    kind, path, reference = network
    model = load_color_model(path, kind=kind)
    frames = film_frames()
    outs = list(FrameColorizer(model, stabilizer=None).colorize_frames(frames, batch_size=4))
    for rgb, out in zip(frames, outs):
        assert max_diff(out, reference(path, rgb)[0]) <= 1


def test_film_frames_keep_their_lightness_with_stabilization(network):
    kind, path, _ = network
    model = load_color_model(path, kind=kind)
    frames = film_frames()
    outs = list(FrameColorizer(model, stabilizer=Stabilizer()).colorize_frames(frames, 4))
    for rgb, out in zip(frames, outs):
        assert np.abs(color.rgb_to_l(out) - color.rgb_to_l(rgb)).max() < 0.6


def test_fixed_batch_runs_frame_by_frame(tmp_path):
    path = conv_net(tmp_path / "one.onnx", batch=1)
    model = load_color_model(path, kind="ddcolor")
    frames = film_frames(3)
    ab = model.predict_ab(np.stack([color.rgb_to_l(f) for f in frames]))
    for f, got in zip(frames, ab):
        assert np.abs(got - ddcolor_reference(path, f)[1]).max() < 0.05


def test_identity_and_name_carry_the_files_hash(tmp_path):
    import hashlib

    path = conv_net(tmp_path / "net.onnx")
    model = load_color_model(path, kind="ddcolor")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest in model.name and model.identity["sha256"] == digest
    other = conv_net(tmp_path / "net.onnx", seed=1)
    assert load_color_model(other, kind="ddcolor").identity != model.identity


def test_sidecar_gives_the_convention(tmp_path):
    path = conv_net(tmp_path / "net.onnx", out_channels=3, gain=0.4)
    (tmp_path / "net.onnx.json").write_text(json.dumps({"kind": "deoldify", "name": "old"}))
    model = load_color_model(tmp_path)  # the folder holding it
    assert model.name.startswith("old (ONNX")
    expected, _ = deoldify_reference(path, photo())
    assert max_diff(colorize_image(photo(), model), expected) <= 1


# --- bad files: one line naming the problem -----------------------------------------------------

@pytest.mark.parametrize("make, sidecar, words", [
    (lambda p: p.write_bytes(b"not a network at all"), None, "not an ONNX file"),
    (lambda p: p.write_bytes(b"hello\n"), None, "not an ONNX file"),
    (lambda p: conv_net(p, rank=3), None, "rank 3"),
    (lambda p: conv_net(p, out_channels=4), None, "expected 2 (a/b) or 3"),
    (lambda p: conv_net(p, out_channels=3), None, "says ab"),
    (lambda p: conv_net(p), {"kind": "ddcolor", "input": {"layout": "NHWC"}}, "NHWC"),
    (lambda p: conv_net(p), {"kind": "ddcolor", "input": {"size": 512}}, "size 512"),
    (lambda p: conv_net(p), {"input": {"layot": "NCHW"}}, "unknown field 'layot'"),
    (lambda p: conv_net(p), {}, "--model-kind"),
    (lambda p: conv_net(p), {"vidcolor": "0.1", "format": "onnx"}, "vidcolor's own network"),
])
def test_bad_files_are_one_line_errors(tmp_path, make, sidecar, words):
    path = tmp_path / "bad.onnx"
    make(path)
    if sidecar is not None:
        (tmp_path / "bad.onnx.json").write_text(json.dumps(sidecar))
    kind = None if sidecar is not None else "ddcolor"
    with pytest.raises(VidcolorError) as info:
        load_color_model(path, kind=kind if words != "--model-kind" else None)
    message = str(info.value)
    assert words in message and "\n" not in message


def test_kind_and_runtime_checks(tmp_path):
    path = conv_net(tmp_path / "net.onnx")
    with pytest.raises(VidcolorError, match="keras"):
        load_color_model(path, "keras", kind="ddcolor")
    with pytest.raises(VidcolorError, match="unknown model kind"):
        load_color_model(path, kind="pix2pix")
    with pytest.raises(VidcolorError, match="no such ONNX file"):
        load_color_model(tmp_path / "missing.onnx", kind="ddcolor")
    with pytest.raises(VidcolorError, match="--model-kind is for ONNX files"):
        load_color_model(None, kind="ddcolor")  # the shipped model
    conv_net(tmp_path / "other.onnx", seed=2)
    with pytest.raises(VidcolorError, match="holds 2 .onnx files"):
        load_color_model(tmp_path, kind="ddcolor")


def test_both_runtimes_run_the_same_file(tmp_path):
    pytest.importorskip("openvino")
    path = conv_net(tmp_path / "net.onnx")
    L = color.rgb_to_l(photo())[None]
    a = load_color_model(path, "onnxruntime", kind="ddcolor").predict_ab(L)
    b = load_color_model(path, "openvino", kind="ddcolor").predict_ab(L)
    assert np.abs(a - b).max() < 0.05
    with pytest.raises(VidcolorError, match="runs ONNX files"):
        load_color_model(None, "onnxruntime")


# --- the commands ------------------------------------------------------------------------------

def test_image_command_marks_the_network_and_its_hash(tmp_path, capsys):
    import hashlib

    from vidcolor.cli import main
    from vidcolor.imageio import read_provenance

    net = conv_net(tmp_path / "net.onnx")
    src, dst = tmp_path / "grey.png", tmp_path / "out.png"
    Image.fromarray(photo()).save(src)
    assert main(["image", str(src), "-o", str(dst), "--model", str(net),
                 "--model-kind", "ddcolor"]) == 0
    assert hashlib.sha256(net.read_bytes()).hexdigest() in read_provenance(dst)
    assert max_diff(np.asarray(Image.open(dst)), ddcolor_reference(net, photo())[0]) <= 1
    assert main(["image", str(src), "-o", str(tmp_path / "x.png"), "--model", str(net)]) == 1
    assert "--model-kind" in capsys.readouterr().err


def test_eval_puts_models_side_by_side(tmp_path, capsys):
    from vidcolor.cli import main

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        rgb = np.stack([photo(offset=10 * i)[..., 0], photo()[..., 0][::-1], photo()[..., 1].T], -1)
        Image.fromarray(np.ascontiguousarray(rgb)).save(folder / f"{i}.png")
    a, b = conv_net(tmp_path / "a.onnx"), conv_net(tmp_path / "b.onnx", seed=3)
    assert main(["eval", str(folder), "--model", str(a), "--model", str(b),
                 "--model-kind", "ddcolor"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["models"]
    assert [r["model"] for r in rows] == [str(a), str(b)]
    assert rows[0]["psnr"] != rows[1]["psnr"] and all(r["seconds_per_picture"] > 0 for r in rows)


def test_video_command_runs_the_network(tmp_path, make_clip, read_video, stream_summary):
    from vidcolor.cli import main

    net = conv_net(tmp_path / "net.onnx")
    src = make_clip(tmp_path / "in.mp4", n=8, size=(64, 64))
    dst = tmp_path / "out.mkv"
    assert main(["video", str(src), "-o", str(dst), "--model", str(net), "--model-kind",
                 "ddcolor", "--crf", "0"]) == 0
    _, frames_in = read_video(src)
    _, frames_out = read_video(dst)
    assert len(frames_out) == 8
    grey_in = color.rgb_to_l(frames_in[4])
    assert np.abs(color.rgb_to_l(frames_out[4]) - grey_in).mean() < 1.0  # its own lightness
    assert np.abs(frames_out[4][..., 0].astype(int) - frames_out[4][..., 2]).mean() > 3
    assert "ONNX, sha256 " in stream_summary(dst)["metadata"]["comment"]


def test_hints_correct_the_networks_colours(tmp_path):
    """No hint input: the spread (vidcolor.propagate) moves the network's a/b to the hint."""
    from vidcolor.hints import square_hints

    model = load_color_model(conv_net(tmp_path / "net.onnx"), kind="ddcolor")
    rgb = photo()
    want = np.float32([[30.0, -20.0]])
    hints = square_hints((S, S), np.array([[32, 32]]), np.array([2]), want)
    plain = color.rgb_to_lab(colorize_image(rgb, model))[1][32, 32]
    hinted = color.rgb_to_lab(colorize_image(rgb, model, hints=hints))[1][32, 32]
    assert np.abs(hinted - want[0]).max() < 4 < np.abs(plain - want[0]).max()


def test_open_size_network_sees_the_render_and_tiles_large_stills(tmp_path, monkeypatch):
    path = conv_net(tmp_path / "open.onnx", out_channels=3, gain=0.4, size="side")
    (tmp_path / "open.onnx.json").write_text(json.dumps({"kind": "deoldify", "render_size": 64}))
    model = load_color_model(path)
    assert model.fixed_size is None and model.multiple == 32
    rgb = photo(40, 88, offset=20)  # padded to 64 x 96 for the network, cut back
    out = np.asarray(run_net(path, _deoldify_input(rgb, (64, 96))))[0].transpose(1, 2, 0)
    out8 = (np.clip(out * STD + MEAN, 0, 1) * 255).astype(np.uint8)[:40, :88]
    want = cv2.cvtColor(out8.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[..., 1:]
    got = model.predict_ab(color.rgb_to_l(rgb)[None])[0]
    assert np.abs(got - want).max() < 1.5
    calls = []
    predict = model.predict_ab
    monkeypatch.setattr(model, "predict_ab",
                        lambda L, **kw: calls.append(L.shape) or predict(L, **kw))
    big = photo(384, 512)
    coloured = colorize_image(big, model)
    assert len(calls) > 1  # the whole render, then tiles of a larger working copy
    assert np.abs(color.rgb_to_l(coloured) - color.rgb_to_l(big)).max() < 0.6


def _deoldify_input(rgb8, shape):
    """DeOldify's grey input, reflect-padded to ``shape`` (an open-size network's multiple)."""
    grey = np.asarray(Image.fromarray(rgb8).convert("LA").convert("RGB"), np.float32) / 255.0
    h, w = rgb8.shape[:2]
    grey = np.pad(grey, ((0, shape[0] - h), (0, shape[1] - w), (0, 0)), mode="reflect")
    return ((grey - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)


def test_help_and_conventions_import_no_runtime():
    from support import packages_loaded_by

    assert packages_loaded_by("import vidcolor.cli; vidcolor.cli.build_parser(); "
                              "import vidcolor.models.onnx_convention",
                              {"onnxruntime", "openvino", "onnx", "keras", "tensorflow"}) == []


def test_an_onnx_file_loads_no_keras(tmp_path):
    from support import packages_loaded_by

    path = conv_net(tmp_path / "net.onnx")
    assert packages_loaded_by("from vidcolor.models.runtimes import load_color_model; "
                              f"load_color_model({str(path)!r}, kind='ddcolor')",
                              {"keras", "tensorflow"}) == []
