"""The colour copy's restorer: its training pairs, its network, its IR and what it does."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from support import DATA
from training import copy_data
from vidcolor import color, copy_restore
from vidcolor.video.colour_copy import chromaticity

CBSD68 = DATA / "val" / "cbsd68"


def _lab(L, ab):
    return np.concatenate([L[..., None], ab], -1)


def _photo(seed=0, h=200, w=240):
    """A smooth colourful picture with a few hard edges."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    cv2.circle(base, (w // 2, h // 2), h // 4, (200, 30, 40), -1)
    return base


def test_pairs_are_a_pure_function_of_the_seed_and_have_the_documented_layout(tmp_path):
    for k in range(3):
        cv2.imwrite(str(tmp_path / f"{k}.png"), _photo(k)[..., ::-1])
    files = sorted(tmp_path.glob("*.png"))
    x1, y1 = copy_data.samples(files, 2, 24, seed=5)
    x2, y2 = copy_data.samples(files, 2, 24, seed=5)
    x3, _ = copy_data.samples(files, 2, 24, seed=6)
    assert x1.shape == (6, 24, 24, 4) and y1.shape == (6, 24, 24, 3)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2) and not np.array_equal(x1, x3)
    # Channels: master L / 100, copy L / 100 in [0, 1]; the target's L is the master's.
    assert 0.0 <= x1[..., :2].min() and x1[..., :2].max() <= 1.0
    assert np.allclose(y1[..., 2] / 100.0, x1[..., 0], atol=2e-3)


def test_a_worn_copy_differs_from_the_clean_one_and_the_target_is_the_clean_chroma():
    rgb = _photo(1, 192, 192)
    rng = np.random.default_rng(0)
    worn = [copy_data.worn_copy(cv2.resize(rgb, (48, 48), interpolation=cv2.INTER_AREA), rng)
            for _ in range(20)]
    clean = cv2.resize(rgb, (48, 48), interpolation=cv2.INTER_AREA)
    changed = [np.abs(w.astype(int) - clean).mean() > 0.5 for w in worn]
    assert 12 <= sum(changed) < 20  # most worn, a few clean (CLEAN_SHARE)
    # The target is the clean copy: the input's chroma where a draw left the copy unworn and
    # unshifted, something else where it wore it.
    same = []
    for seed in range(60):
        x, y = copy_data.copy_sample(rgb, 32, np.random.default_rng(seed))
        same.append(np.allclose(x[..., 2:4] * 100.0, y[..., :2], atol=1e-3))
    assert 0 < sum(same) < 20


def test_the_untrained_network_passes_the_copy_through():
    pytest.importorskip("keras")
    from vidcolor.models.copy_nets import copy_restorer

    x = np.random.default_rng(0).uniform(-1, 1, (2, 16, 24, 4)).astype(np.float32)
    out = np.asarray(copy_restorer(8)(x))
    assert out.shape == (2, 16, 24, 2)
    assert np.allclose(out, x[..., 2:4], atol=1e-6)


def _restorer_with_a_correction(width: int, seed: int):
    """A random restorer whose correction is not zero (an untrained one passes the copy)."""
    import keras

    from vidcolor.models.copy_nets import copy_restorer

    keras.utils.set_random_seed(seed)
    model = copy_restorer(width)
    kernel = model.get_layer("correction").kernel
    kernel.assign(np.random.default_rng(seed).normal(0, 0.05, kernel.shape))
    return model


def test_ir_gives_the_keras_numbers_at_any_size_mirrored_four_ways(tmp_path):
    pytest.importorskip("tensorflow")
    from training.train_copy import write_ir

    model = _restorer_with_a_correction(8, 2)
    ir = write_ir(model, tmp_path, fp16=False)
    restorer = copy_restore.CopyRestorer(ir, precision="f32")
    default = copy_restore.CopyRestorer(ir)  # bf16 where the CPU has it
    rng = np.random.default_rng(3)
    for h, w in ((32, 40), (37, 53)):
        L_master, L_copy = rng.uniform(0, 100, (2, h, w)).astype(np.float32)
        chroma = rng.uniform(-80, 80, (h, w, 2)).astype(np.float32)
        got = restorer(chroma, L_copy, L_master)
        x = copy_restore.network_input(L_master, L_copy, chroma)
        ph, pw = -h % 8, -w % 8
        x = np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="symmetric")
        # The mean of the network's answers on the four mirrorings, each mirrored back.
        views = np.stack([x, x[:, ::-1], x[::-1], x[::-1, ::-1]])
        o = np.asarray(model(views))
        want = ((o[0] + o[1, :, ::-1] + o[2, ::-1] + o[3, ::-1, ::-1]) / 4)[:h, :w] * 100.0
        assert got.shape == (h, w, 2)
        assert np.abs(got - want).max() < 1e-3
        assert np.abs(default(chroma, L_copy, L_master) - want).max() < 2.0
        assert np.abs(got - chroma).max() > 0.5  # the correction is not zero


def test_int8_weights_halve_the_ir_and_keep_its_answers(tmp_path):
    pytest.importorskip("tensorflow")
    pytest.importorskip("nncf")
    from training.train_copy import write_ir

    model = _restorer_with_a_correction(16, 4)
    half = write_ir(model, tmp_path / "f16")
    int8 = write_ir(model, tmp_path / "int8", int8=True)
    assert int8.with_suffix(".bin").stat().st_size < 0.6 * half.with_suffix(".bin").stat().st_size
    rng = np.random.default_rng(6)
    L_master, L_copy = rng.uniform(0, 100, (2, 40, 48)).astype(np.float32)
    chroma = rng.uniform(-80, 80, (40, 48, 2)).astype(np.float32)
    a = copy_restore.CopyRestorer(half, precision="f32")(chroma, L_copy, L_master)
    b = copy_restore.CopyRestorer(int8, precision="f32")(chroma, L_copy, L_master)
    assert np.abs(a - chroma).max() > 0.5 and np.abs(b - a).mean() < 0.05 * np.abs(a - chroma).mean()


def test_a_widened_network_computes_what_the_narrow_one_did():
    pytest.importorskip("tensorflow")
    import keras

    from training.train_copy import widen_into
    from vidcolor.models.copy_nets import copy_restorer

    keras.utils.set_random_seed(7)
    narrow, wide = copy_restorer(4), copy_restorer(6)
    rng = np.random.default_rng(8)
    for layer in narrow.layers:
        for v in layer.weights:
            v.assign(rng.normal(0, 0.3, v.shape))
    x = rng.uniform(0, 1, (2, 24, 32, 4)).astype(np.float32)
    before = np.asarray(wide(x))
    widen_into(narrow, wide)
    want = np.asarray(narrow(x))
    assert np.abs(want - x[..., 2:4]).max() > 0.1  # the narrow network does something
    assert np.abs(np.asarray(wide(x)) - want).max() < 1e-4
    assert np.abs(before - want).max() > 0.1
    # the new channels are live: their incoming weights are not all zero
    assert np.abs(np.asarray(wide.get_layer("e1a").kernel)[..., 8:]).max() > 0


def _relit_mse(chroma, truth, L):
    return float((((chroma - truth) * ((L[..., None] + 16.0) / 100.0)) ** 2).mean())


@pytest.mark.skipif(not copy_restore.available(), reason="the restorer is not installed")
@pytest.mark.skipif(not CBSD68.is_dir(), reason="no validation photos")
def test_the_shipped_restorer_takes_jpeg_wear_out_of_a_copy():
    """On photos it never saw, a quarter-size copy through JPEG at quality 30 (4:2:0): the
    restored chroma is closer to the clean copy's than the worn copy's is, photo by photo."""
    restorer = copy_restore.CopyRestorer()
    gains = []
    for path in sorted(CBSD68.glob("*.png"))[:6]:
        rgb = cv2.imread(str(path))[..., ::-1]
        h, w = rgb.shape[0] // 4, rgb.shape[1] // 4
        small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(small[..., ::-1]),
                                [cv2.IMWRITE_JPEG_QUALITY, 30])
        worn = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
        L_master = cv2.resize(color.rgb_to_lab(rgb)[0], (w, h), interpolation=cv2.INTER_AREA)
        truth = chromaticity(_lab(*color.rgb_to_lab(small)))
        L_worn, ab_worn = color.rgb_to_lab(worn)
        chroma = chromaticity(_lab(L_worn, ab_worn))
        out = restorer(chroma, L_worn, L_master)
        gains.append(10 * np.log10(_relit_mse(chroma, truth, L_master)
                                   / _relit_mse(out, truth, L_master)))
    assert min(gains) > 0.0 and np.mean(gains) > 0.5, gains


def test_training_saves_its_step_and_resumes_from_it(tmp_path):
    pytest.importorskip("tensorflow")
    import json

    from training import train_copy

    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(3):
        cv2.imwrite(str(photos / f"{k}.png"), _photo(k)[..., ::-1])
    out = tmp_path / "run"
    args = [str(photos), "--val", str(photos), "--out", str(out), "--size", "16",
            "--batch", "4", "--width", "4", "--every", "2", "--per-file", "1"]
    assert train_copy.main(args + ["--steps", "2"]) == 0
    assert json.loads((out / "state.json").read_text()) == {"step": 2}
    first = (out / "restorer.weights.h5").read_bytes()
    assert train_copy.main(args + ["--steps", "4"]) == 0
    assert json.loads((out / "state.json").read_text()) == {"step": 4}
    assert (out / "restorer.weights.h5").read_bytes() != first
    assert train_copy.main(["--out", str(out), "--width", "4",
                            "--export", str(tmp_path / "ir")]) == 0
    assert copy_restore.available(tmp_path / "ir" / "restorer.xml")


def test_the_shipped_weights_stay_within_20_mb():
    weights = Path(copy_restore.__file__).parent / "weights"
    total = sum(f.stat().st_size for f in weights.rglob("*") if f.is_file())
    assert total <= 20_000_000, total


def test_photos_too_small_for_a_pair_are_a_one_line_error(tmp_path, capsys):
    from training import train_copy

    cv2.imwrite(str(tmp_path / "tiny.png"), _photo(0, 60, 80)[..., ::-1])
    code = train_copy.main([str(tmp_path), "--val", str(tmp_path), "--out",
                            str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: no photo is large enough") and "\n" not in err
