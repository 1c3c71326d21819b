"""`vidcolor train`: exact resume, checkpoints that load as models, bad inputs reported clearly."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

pytest.importorskip("keras")  # training builds Keras networks

from training import data, train  # noqa: E402 - after the skip
from vidcolor.models import ir  # noqa: E402
from vidcolor.models.store import load_model  # noqa: E402


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(6):
        h, w = rng.integers(70, 120, 2)
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([(xx * 2 + i * 30) % 256, (yy * 3) % 256, ((xx + yy) * (i + 1)) % 256], -1)
        cv2.imwrite(str(folder / f"p{i}.png"), img.astype(np.uint8))
    return folder


def _train(argv):
    return train.main([*map(str, argv)])


# _no_openvino_form: the fusion runs below skip the finished model's OpenVINO form (seconds
# to convert per run); the resume test checks that training writes it.


def _history(out):
    with open(out / "checkpoint" / "state.json") as f:
        return json.load(f)["history"]


def test_interrupted_then_resumed_run_continues_step_count_and_loss_curve(photos, tmp_path, monkeypatch):
    common = ["--arch", "beta", "--size", "64", "--batch-size", "2", "--steps", "6", "--checkpoint-every", "100"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert _train([photos, "--out", straight, *common]) == 0

    real_next = data.BatchStream.__next__

    def interrupt_at_step_3(self):
        if self.step == 3:
            raise KeyboardInterrupt  # what Ctrl-C does mid-run
        return real_next(self)

    monkeypatch.setattr(data.BatchStream, "__next__", interrupt_at_step_3)
    assert _train([photos, "--out", split, *common]) == 130
    assert [h["step"] for h in _history(split)] == [1, 2, 3]
    monkeypatch.setattr(data.BatchStream, "__next__", real_next)
    assert _train([photos, "--out", split, "--resume"]) == 0
    resumed, reference = _history(split), _history(straight)
    assert [h["step"] for h in resumed] == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose([h["loss"] for h in resumed], [h["loss"] for h in reference], rtol=1e-3)
    config = json.loads((split / "config.json").read_text())
    assert config["train"]["step"] == 6
    assert load_model(split).predict_ab(np.full((1, 40, 40), 50, np.float32)).shape == (1, 40, 40, 2)
    # The finished model colours without Keras: its OpenVINO form is written and current.
    assert ir.problem(split, config) is None and load_model(split).keras is None


def test_batches_are_a_pure_function_of_seed_and_step(photos):
    files = data.find_images([photos])
    a = data.BatchStream(files, 2, 64, seed=1, start_step=0)
    b = data.BatchStream(files, 2, 64, seed=1, start_step=5)
    try:
        for _ in range(5):
            next(a)
        La, aba = next(a)
        Lb, abb = next(b)
    finally:
        a.close()
        b.close()
    np.testing.assert_array_equal(La, Lb)
    np.testing.assert_array_equal(aba, abb)


def test_folder_balance_shares_batches_by_folder_size_to_a_power(tmp_path):
    files = [tmp_path / "big" / f"{i}.png" for i in range(90)] + [tmp_path / "small" / f"{i}.png" for i in range(10)]
    for power, small_share in ((1.0, 0.1), (0.5, 10 ** 0.5 / (10 ** 0.5 + 90 ** 0.5)), (0.0, 0.5)):
        w = data.folder_weights(files, power)
        assert w.sum() == pytest.approx(1.0)
        assert w[90:].sum() == pytest.approx(small_share)
        assert np.ptp(w[:90]) == 0 and np.ptp(w[90:]) == 0  # equal within a folder


def test_weighted_batches_follow_the_weights_and_are_a_pure_function_of_step(photos):
    files = data.find_images([photos])
    weights = np.zeros(len(files))
    weights[[1, 4]] = 0.5
    stream = data.BatchStream(files, 4, 64, seed=3, weights=weights)
    resumed = data.BatchStream(files, 4, 64, seed=3, start_step=7, weights=weights)
    try:
        picks = [i for step in range(20) for i in stream._indices(step)]
        assert set(picks) == {1, 4} and 25 < picks.count(1) < 55
        for _ in range(7):
            next(stream)
        np.testing.assert_array_equal(next(stream)[0], next(resumed)[0])
    finally:
        stream.close()
        resumed.close()


def test_degradation_keeps_range_and_changes_the_input():
    rng = np.random.default_rng(0)
    L = np.tile(np.linspace(0, 100, 64, dtype=np.float32), (64, 1))
    changed = [np.abs(data.degrade_l(L, np.random.default_rng(s)) - L).mean() for s in range(10)]
    out = data.degrade_l(L, rng)
    assert out.dtype == np.float32 and out.shape == L.shape
    assert out.min() >= 0 and out.max() <= 100
    assert max(changed) > 1.0


def test_unreadable_and_tiny_files_are_skipped_and_counted(photos, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for f in photos.iterdir():
        (mixed / f.name).write_bytes(f.read_bytes())
    (mixed / "broken.jpg").write_bytes(b"not a jpeg at all")
    cv2.imwrite(str(mixed / "tiny.png"), np.zeros((8, 8, 3), np.uint8))
    out = tmp_path / "run"
    assert _train([mixed, "--out", out, "--arch", "beta", "--size", "64", "--batch-size", "4",
                   "--steps", "6"]) == 0
    err = capsys.readouterr().err
    assert "unreadable" in err and "too-small" in err
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["unreadable"] == 1 and state["too_small"] == 1


def test_no_images_is_a_one_line_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _train([empty, "--out", tmp_path / "o", "--arch", "alpha"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no images found" in err[0]


def test_missing_input_and_existing_run_are_one_line_errors(photos, tmp_path, capsys):
    assert _train([tmp_path / "nope", "--out", tmp_path / "o"]) == 2
    assert "no such file" in capsys.readouterr().err
    out = tmp_path / "run"
    common = [photos, "--out", out, "--arch", "alpha", "--size", "64", "--steps", "1"]
    assert _train(common) == 0
    capsys.readouterr()
    assert _train(common) == 2
    assert "--resume" in capsys.readouterr().err
    assert _train([photos, "--out", tmp_path / "other", "--resume"]) == 2


def test_vidcolor_train_cli_hands_over_to_the_training_package(photos, tmp_path):
    out = tmp_path / "cli"
    proc = subprocess.run(
        [sys.executable, "-m", "vidcolor.cli", "train", str(photos), "--out", str(out), "--arch", "alpha",
         "--size", "64", "--steps", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "config.json").is_file() and (out / "weights.npz").is_file()
    assert "Traceback" not in proc.stderr


def test_vidcolor_train_help_reaches_the_training_parser():
    proc = subprocess.run([sys.executable, "-m", "vidcolor.cli", "train", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--resume" in proc.stdout and "--epochs" in proc.stdout


def test_init_starts_from_a_trained_model_and_tunes_the_backbone(photos, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ir, "write", lambda *args, **kwargs: None)  # see _no_openvino_form
    fusion = ["--arch", "fusion", "--size", "64", "--batch-size", "2", "--steps", "1", "--holdout-every", "0"]
    base = tmp_path / "base"
    assert _train([photos, "--out", base, "--width", "16", *fusion]) == 0
    tuned = tmp_path / "tuned"
    # A learning rate of ~0 keeps the first step's weights the init's own.
    assert _train([photos, "--out", tuned, "--init", base, "--tune-from", "15", "--lr", "1e-12", *fusion]) == 0
    config = json.loads((tuned / "config.json").read_text())
    assert config["build"]["width"] == 16 and config["build"]["tune_from"] == 15
    with np.load(tuned / "weights.npz") as new, np.load(base / "weights.npz") as old:
        assert "head/kernel" in new.files and "block15_dw/kernel" in new.files
        assert set(old.files) < set(new.files)
        # Kernels, not batch-norm statistics: those move with any training step.
        kernels = [k for k in old.files if k.endswith("kernel")]
        assert len(kernels) > 10
        for k in kernels:
            np.testing.assert_allclose(new[k], old[k], atol=1e-3)
    # Going back from a tuned backbone to a frozen one would drop what it learned.
    capsys.readouterr()
    assert _train([photos, "--out", tmp_path / "beta", "--init", tuned, "--arch", "beta", "--steps", "1"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_snapshots_and_their_average_with_the_shared_holdout(photos, tmp_path, capsys):
    from training import average

    a, b = tmp_path / "a", tmp_path / "b"
    beta = ["--arch", "beta", "--size", "64", "--batch-size", "2", "--steps", "4", "--snapshot-every", "2"]
    assert _train([photos, "--out", a, *beta]) == 0
    assert sorted(p.name for p in (a / "snapshots").iterdir()) == ["step2", "step4"]
    assert json.loads((a / "snapshots" / "step2" / "config.json").read_text())["train"]["step"] == 2
    with np.load(a / "snapshots" / "step2" / "weights.npz") as w2, np.load(a / "weights.npz") as w4:
        assert any(not np.array_equal(w2[k], w4[k]) for k in w4.files)
    b.mkdir()
    (b / "config.json").write_text((a / "config.json").read_text())
    with np.load(a / "weights.npz") as w:
        wa = {k: w[k].astype(np.float32) for k in w.files}
    np.savez(b / "weights.npz", **{k: v + 1.0 for k, v in wa.items()})
    (a / "holdout.txt").write_text("/x/1.jpg\n/x/2.jpg\n/x/3.jpg\n")
    (b / "holdout.txt").write_text("/x/3.jpg\n/x/2.jpg\n/x/4.jpg\n")

    out = tmp_path / "soup"
    assert average.main([str(out), str(a), str(b)]) == 0
    with np.load(out / "weights.npz") as w:
        assert set(w.files) == set(wa)
        for k, v in wa.items():
            np.testing.assert_allclose(w[k].astype(np.float32), v + 0.5, rtol=2e-3, atol=1e-3)
    # Only photos that neither model trained on may calibrate the average.
    assert (out / "holdout.txt").read_text().split() == ["/x/2.jpg", "/x/3.jpg"]
    config = json.loads((out / "config.json").read_text())
    assert [m["model"] for m in config["averaged_from"]] == [str(a), str(b)]
    load_model(out)

    other = tmp_path / "alpha"
    assert _train([photos / "p0.png", "--out", other, "--arch", "alpha", "--steps", "1"]) == 0
    capsys.readouterr()
    assert average.main([str(out), str(a), str(b)]) == 2  # no silent overwrite
    assert average.main([str(tmp_path / "mixed"), str(a), str(other)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "overwrite" in errors[0] and "not the same network" in errors[1]
    assert not (tmp_path / "mixed").exists()


def test_hint_batches_give_simulated_hints_at_the_input_size(photos):
    files = data.find_images([photos])
    stream = data.BatchStream(files, 8, 64, seed=1, hints=True, target_stride=4)
    try:
        (L, hints), ab = next(stream)
    finally:
        stream.close()
    assert L.shape == (8, 64, 64, 1) and hints.shape == (8, 64, 64, 3) and ab.shape == (8, 16, 16, 2)
    mask = hints[..., 2]
    assert set(np.unique(mask)) <= {0.0, 1.0} and np.all(hints[..., :2][mask == 0] == 0)
    again = data.BatchStream(files, 8, 64, seed=1, hints=True, target_stride=4).make_batch(0)
    assert np.array_equal(again[0][1], hints)
    counts = [data.hint_count(np.random.default_rng([7, i])) for i in range(2000)]
    assert 0.2 < np.mean(np.array(counts) == 0) < 0.4 and max(counts) > 100
    assert 0.4 < np.mean((np.array(counts) > 0) & (np.array(counts) <= 20)) < 0.7


def test_hint_fine_tune_trains_only_the_hint_branch(photos, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ir, "write", lambda *args, **kwargs: None)  # see _no_openvino_form
    fusion = ["--arch", "fusion", "--size", "64", "--batch-size", "2", "--steps", "2", "--holdout-every", "0"]
    base = tmp_path / "base"
    assert _train([photos, "--out", base, "--width", "16", *fusion]) == 0
    base_config = json.loads((base / "config.json").read_text())
    base_config["decode"] = {"mix": 0.25, "temperature": 0.3, "gain": 1.1}  # as if calibrated
    (base / "config.json").write_text(json.dumps(base_config))
    capsys.readouterr()
    assert _train([photos, "--out", tmp_path / "x", "--hints", *fusion]) == 2
    assert "give --init" in capsys.readouterr().err
    tuned = tmp_path / "hinted"
    assert _train([photos, "--out", tuned, "--init", base, "--hints", "--lr", "1e-2", *fusion]) == 0
    config = json.loads((tuned / "config.json").read_text())
    assert config["build"]["hints"] is True
    assert config["decode"] == base_config["decode"]  # the frozen trunk keeps its read-out
    with np.load(tuned / "weights.npz") as new, np.load(base / "weights.npz") as old:
        assert set(old.files) < set(new.files)
        for k in old.files:  # the trunk is frozen: without hints, the --init model exactly
            np.testing.assert_array_equal(new[k], old[k])
        assert any(np.abs(new[k]).max() > 0 for k in new.files if k.startswith("hint_to_"))
    assert load_model(tuned).uses_hints
