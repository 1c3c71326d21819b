"""`vidcolor image --hints / --hints-image` (issue 16 item 2), with a fake model that honours
hints, and the hint-conditioned fusion network's promise: without hints, the network it was
made from."""

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from vidcolor import cli, color, tiling
from vidcolor import hints as H
from vidcolor.colorize import ImageColorizer
from vidcolor.models import store
from vidcolor.models.protocol import ColorModel
from vidcolor.options import ImageOptions

AUTO_AB = (6.0, 4.0)
HINT = "#4070a0"  # a blue inside the gamut at both halves' lightness


class HintFake(ColorModel):
    """Automatic a/b = AUTO_AB everywhere; a hint's colour spreads a few render pixels, but
    only over pixels on its side of L = 50 (an edge-aware network, in the small)."""

    name = "hint-fake"
    render_size = 32
    multiple = 8
    uses_hints = True

    def __init__(self):
        self.calls = 0

    def predict_ab(self, L, global_features=None, hints=None):
        L = np.asarray(L, np.float32)
        out = np.broadcast_to(np.float32(AUTO_AB), L.shape + (2,)).copy()
        if hints is None:
            return out
        self.calls += 1
        ab, mask = hints
        for i in range(len(L)):
            for side in (L[i] < 50, L[i] >= 50):
                m = mask[i, ..., 0] * side
                weight = cv2.GaussianBlur(m, (0, 0), 2.0)
                spread = cv2.GaussianBlur(ab[i] * m[..., None], (0, 0), 2.0)
                near = side & (weight > 1e-3)
                out[i][near] = spread[near] / weight[near][:, None]
        return out


class NoHints(HintFake):
    name = "no-hints"
    uses_hints = False


def _two_halves(h=96, w=128, dtype=np.uint8):
    """Dark left half, bright right half: a strong vertical edge at w // 2."""
    L = np.full((h, w), 30.0, np.float32)
    L[:, w // 2:] = 80.0
    return color.l_to_grey_rgb(L, dtype)


def _ab(rgb):
    return color.rgb_to_lab(rgb)[1]


def _near_hint(ab):
    """Whether a/b is the hint's colour (to a quarter of its distance from the automatic one)."""
    want = H.parse_color(HINT)
    return np.linalg.norm(ab - want) < 0.25 * np.linalg.norm(want - np.float32(AUTO_AB))


def _untouched(ab):
    """Whether a/b is the automatic colour, but for a tenth of the hint's pull (the tiles'
    low-frequency anchor is a smooth correction)."""
    want = H.parse_color(HINT)
    return np.linalg.norm(ab - np.float32(AUTO_AB)) < 0.1 * np.linalg.norm(want - np.float32(AUTO_AB))


def _hints_json(path, points):
    path.write_text(json.dumps({"points": points}))
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("tile", [0, None])
def test_a_hint_colours_where_it_is_and_near_not_far_across_an_edge(dtype, tile):
    rgb = _two_halves(dtype=dtype)
    hints = H.parse_points({"points": [{"x": 50, "y": 40, "radius": 2, "color": HINT}]}, rgb.shape[:2])
    options = ImageOptions(tile=tile)
    if tile is None:  # the automatic choice tiles this picture: the tiled path is tested too
        assert tiling.plan_tiles(96, 128, 32, 8) is not None
    model = HintFake()
    auto = _ab(ImageColorizer(model, options).colorize(rgb))
    out = _ab(ImageColorizer(model, options).colorize(rgb, hints=hints))
    assert model.calls > 0
    assert np.abs(auto - AUTO_AB).max() < 1.5
    for y, x in ((40, 50), (44, 54), (36, 46)):  # the hint and near it
        assert _near_hint(out[y, x]), (y, x, out[y, x])
    for y, x in ((40, 74), (10, 100), (90, 120), (40, 127 - 50)):  # across the edge, its mirror
        assert _untouched(out[y, x]), (y, x, out[y, x])
    assert _untouched(out[90, 5])  # far on its own side
    # L is always the picture's own.
    assert np.abs(color.rgb_to_l(out_rgb := ImageColorizer(model, options).colorize(rgb, hints=hints))
                  - color.rgb_to_l(rgb)).max() < 1.0 and out_rgb.dtype == dtype


@pytest.mark.parametrize("tile", [0, None])
def test_a_model_without_hint_input_is_corrected_by_hints_along_edges(tile):
    """Two hints, one on each side of the edge: each side takes its own hint's colour (the
    correction spreads over its region and stops at the edge), the model is never given them."""
    rgb = _two_halves()
    blue, red = "#4070a0", "#a05040"
    hints = H.parse_points({"points": [{"x": 20, "y": 40, "radius": 1, "color": blue},
                                       {"x": 100, "y": 60, "radius": 1, "color": red}]},
                           rgb.shape[:2])
    model = NoHints()
    out = _ab(ImageColorizer(model, ImageOptions(tile=tile)).colorize(rgb, hints=hints))
    assert model.calls == 0
    for (y, x), want in (((40, 20), blue), ((90, 5), blue), ((5, 60), blue),
                         ((60, 100), red), ((5, 70), red), ((90, 127), red)):
        target = H.parse_color(want)
        # within a fifth of the distance between the two hints' colours (gamut fit, upsampling)
        assert np.linalg.norm(out[y, x] - target) < 0.2 * np.linalg.norm(
            H.parse_color(blue) - H.parse_color(red)), (y, x, out[y, x], want)
    plain = _ab(ImageColorizer(model, ImageOptions(tile=tile)).colorize(rgb))
    assert np.abs(plain - AUTO_AB).max() < 1.5  # no hints: the model's own colours
    one = H.parse_points({"points": [{"x": 20, "y": 40, "radius": 1, "color": HINT}]}, rgb.shape[:2])
    out = _ab(ImageColorizer(model, ImageOptions(tile=tile)).colorize(rgb, hints=one))
    assert _near_hint(out[40, 20]) and _near_hint(out[90, 60])  # all over its side
    for y, x in ((40, 70), (5, 100), (90, 127)):  # but not across the edge
        assert _untouched(out[y, x]), (y, x, out[y, x])


@pytest.fixture
def fake_model(monkeypatch):
    model = HintFake()
    monkeypatch.setattr(store, "load_model", lambda directory=None: model)
    return model


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(_two_halves()).save(path)
    return path


def _read(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_cli_hints_json(tmp_path, fake_model, picture):
    hints = _hints_json(tmp_path / "h.json", [{"x": 50, "y": 40, "radius": 2, "color": HINT}])
    out = tmp_path / "out.png"
    assert cli.main(["image", str(picture), "-o", str(out), "--hints", str(hints)]) == 0
    ab = _ab(_read(out))
    assert _near_hint(ab[40, 50])
    assert _untouched(ab[40, 100])


def test_cli_hints_image_scribble(tmp_path, fake_model, picture):
    rgba = np.zeros((96, 128, 4), np.uint8)
    rgba[..., :3] = (0x40, 0x70, 0xA0)  # HINT
    rgba[38:43, 90:110, 3] = 255  # a stroke on the bright half
    Image.fromarray(rgba).save(tmp_path / "scribble.png")
    out = tmp_path / "out.png"
    assert cli.main(["image", str(picture), "-o", str(out), "--hints-image",
                     str(tmp_path / "scribble.png")]) == 0
    ab = _ab(_read(out))
    assert _near_hint(ab[40, 100])
    assert _untouched(ab[40, 20])


def test_cli_hints_folder_takes_each_pictures_own_file(tmp_path, fake_model):
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        Image.fromarray(_two_halves()).save(tmp_path / "in" / f"{name}.png")
    (tmp_path / "hints").mkdir()
    _hints_json(tmp_path / "hints" / "a.json", [{"x": 100, "y": 40, "radius": 3, "color": HINT}])
    assert cli.main(["image", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                     "--hints", str(tmp_path / "hints")]) == 0
    a, b = (_ab(_read(tmp_path / "out" / f"{n}.png")) for n in ("a", "b"))
    assert _near_hint(a[40, 100])
    assert _untouched(b[40, 100])  # no hints file: automatic


@pytest.mark.parametrize("content, problem", [
    ({"points": [{"x": 500, "y": 4, "color": HINT}]}, "outside the 128x96 picture"),
    ({"points": [{"x": 5, "y": 4, "color": "#12345"}]}, "bad colour"),
    ("{not json", "bad hints JSON"),
])
def test_cli_bad_hints_are_one_line_errors_and_nothing_is_written(tmp_path, fake_model, picture,
                                                                   capsys, content, problem):
    hints = tmp_path / "h.json"
    hints.write_text(content if isinstance(content, str) else json.dumps(content))
    out = tmp_path / "out.png"
    assert cli.main(["image", str(picture), "-o", str(out), "--hints", str(hints)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and problem in err[0] and "h.json" in err[0]
    assert not out.exists()


def test_cli_hint_image_of_another_size_and_a_model_without_hints(tmp_path, picture, capsys,
                                                                monkeypatch):
    Image.fromarray(np.zeros((10, 10, 4), np.uint8)).save(tmp_path / "small.png")
    monkeypatch.setattr(store, "load_model", lambda directory=None: HintFake())
    out = tmp_path / "out.png"
    assert cli.main(["image", str(picture), "-o", str(out), "--hints-image",
                     str(tmp_path / "small.png")]) == 1
    assert "hint image is 10x10, the picture is 128x96" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.setattr(store, "load_model", lambda directory=None: NoHints())
    hints = _hints_json(tmp_path / "h.json", [{"x": 20, "y": 40, "color": "#4070a0"}])
    assert cli.main(["image", str(picture), "-o", str(out), "--hints", str(hints)]) == 0
    assert out.exists()  # a model without hint input is corrected by the hints
    out.unlink()
    assert cli.main(["image", str(picture), "-o", str(out), "--hints", str(tmp_path / "nope.json")]) == 1
    assert "no such hints file" in capsys.readouterr().err
    assert not out.exists()


# --- the hint-conditioned fusion network --------------------------------------------------

@pytest.fixture(scope="module")
def pair():
    keras = pytest.importorskip("keras")
    from vidcolor.models import nets

    keras.utils.set_random_seed(3)  # the same untrained weights every run: results repeatable
    plain = nets.build("fusion", width=16)
    hinted = nets.build("fusion", width=16, hints=True)
    src = nets.own_weights(plain)
    nets.set_own_weights(hinted, nets.own_weights(hinted) | src)
    for n in (plain, hinted):
        nets.set_decoding(n, {"mix": 0.25, "temperature": 0.38, "gain": 1.1})
    return plain, hinted


def _hint_planes(shape, value=(40.0, -30.0)):
    ab = np.zeros(shape + (2,), np.float32)
    mask = np.zeros(shape + (1,), np.float32)
    ab[:, 8:20, 8:20] = value
    mask[:, 8:20, 8:20] = 1
    return ab, mask


def test_hint_network_without_hints_is_the_network_it_was_made_from(pair):
    from vidcolor.models import nets

    plain, hinted = pair
    L = np.random.default_rng(0).uniform(0, 100, (2, 64, 96, 1)).astype(np.float32)
    expected = plain.predict_ab(L)
    assert np.allclose(hinted.predict_ab(L), expected, atol=1e-5)
    # Before training (zero-initialised last layers), even with hints.
    assert np.allclose(hinted.predict_ab(L, hints=_hint_planes((2, 64, 96))), expected, atol=1e-5)
    # Global features given (the tiles' path) too.
    g = plain.global_features(L)
    assert np.allclose(hinted.predict_ab(L, g), plain.predict_ab(L, g), atol=1e-5)
    assert set(nets.own_weights(plain)) < set(nets.own_weights(hinted))


def test_hint_branch_reaches_the_output_and_no_hints_stay_exact(pair):
    plain, hinted = pair
    layer = hinted.decoder.get_layer("hint_to_ab")
    saved = layer.kernel.numpy()
    try:
        layer.kernel.assign(np.random.default_rng(1).normal(0, 0.5, saved.shape).astype(np.float32))
        L = np.full((1, 64, 96, 1), 50.0, np.float32)
        with_hints = hinted.predict_ab(L, hints=_hint_planes((1, 64, 96)))
        changed = np.abs(with_hints - plain.predict_ab(L)).max(-1)[0]
        assert changed[14, 14] > 1e-2  # where the hint is
        assert np.allclose(hinted.predict_ab(L), plain.predict_ab(L), atol=1e-5)  # bias-free
    finally:
        layer.kernel.assign(saved)


def test_hint_model_folders_load_with_their_build_option(pair, tmp_path):
    _, hinted = pair
    config = {"arch": "fusion", "build": {"width": 16, "bins": hinted.bins.tolist(), "hints": True},
              "render_size": 64}
    store.save_model(hinted, tmp_path / "m", config, openvino=False)
    model = store.load_model(tmp_path / "m")
    assert model.uses_hints and model.nets.hints
    L = np.full((1, 40, 70), 40.0, np.float32)  # padded to multiples of 32, hints alike
    ab, mask = (x[:, :40, :70] for x in _hint_planes((1, 64, 96)))
    assert model.predict_ab(L, hints=(ab, mask)).shape == (1, 40, 70, 2)
    store.save_model(pair[0], tmp_path / "plain",
                     {**config, "build": {**config["build"], "hints": False}}, openvino=False)
    plain = store.load_keras_model(tmp_path / "plain")
    assert not plain.uses_hints
    with pytest.raises(ValueError, match="takes no hints"):
        plain.predict_ab(L, hints=(ab, mask))


# --- vidcolor eval --hints: the simulated user ---------------------------------------------

@pytest.fixture
def colour_folder(tmp_path):
    rng = np.random.default_rng(3)
    for i in range(2):
        L = np.clip(_two_halves().astype(np.float32)[..., 0] / 2.55 + rng.normal(0, 2, (96, 128)), 0, 100)
        ab = np.zeros((96, 128, 2), np.float32)
        ab[:, :64] = (-20, 30)
        ab[:, 64:] = (25, -10 * i)
        Image.fromarray(color.lab_to_rgb(L.astype(np.float32), color.fit_gamut(L, ab))).save(
            tmp_path / f"p{i}.png")
    return tmp_path


def _curve(folder, model, seed, counts=(0, 3, 20)):
    from vidcolor.evaluate import evaluate_folder

    return evaluate_folder(folder, model=model, hint_counts=list(counts), seed=seed)


def test_eval_hints_are_reproducible_with_a_seed_and_beat_no_hints(colour_folder):
    a, b, c = (_curve(colour_folder, HintFake(), seed) for seed in (1, 1, 2))
    assert a["hint_images"] == b["hint_images"] and a["hints"] == b["hints"]
    assert a["hint_images"] != c["hint_images"]
    rows = {r["hints"]: r for r in a["hints"]}
    auto = a["overall"]["psnr"]
    assert rows[0]["psnr"] == pytest.approx(auto) and rows[0]["local_psnr"] == pytest.approx(auto)
    assert rows[20]["local_psnr"] > auto + 3 and rows[20]["global_psnr"] > auto
    assert rows[20]["psnr"] > auto + 3
    # A model without a hint input: corrected by the hints along the edge between the halves,
    # which beats the Gaussian-weighted baseline that blurs the corrections across it.
    plain = {r["hints"]: r for r in _curve(colour_folder, NoHints(), 1)["hints"]}
    assert plain[3]["local_psnr"] == pytest.approx(rows[3]["local_psnr"])
    assert plain[20]["psnr"] > plain[20]["local_psnr"] + 0.5


def test_eval_cli_prints_the_hint_curve(colour_folder, monkeypatch, capsys):
    monkeypatch.setattr(store, "load_model", lambda directory=None: HintFake())
    assert cli.main(["eval", str(colour_folder), "--hints", "0,5", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "simulated hints (seed 4)" in out and '"hints": [{"hints": 0' in out.splitlines()[-1]
    with pytest.raises(SystemExit) as e:
        cli.main(["eval", str(colour_folder), "--hints", "ten"])
    assert e.value.code == 2 and "expected N or N,N" in capsys.readouterr().err


def test_eval_only_measures_the_listed_pictures(colour_folder, monkeypatch, capsys):
    monkeypatch.setattr(store, "load_model", lambda directory=None: HintFake())
    listed = colour_folder / "list.txt"
    listed.write_text(f"{(colour_folder / 'p1.png').resolve()}\n")
    assert cli.main(["eval", str(colour_folder), "--only", str(listed)]) == 0
    assert '"count": 1' in capsys.readouterr().out.splitlines()[-1]
    assert cli.main(["eval", str(colour_folder), "--only", str(colour_folder / "nope.txt")]) == 1
    assert "cannot read the list" in capsys.readouterr().err
