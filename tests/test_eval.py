"""`vidcolor eval` on a tiny folder made here, with a fake model."""

import json

import numpy as np
import pytest
from PIL import Image

from vidcolor import cli, color
from vidcolor.errors import VidcolorError
from vidcolor.evaluate import contact_sheet, evaluate_folder, score_image
from vidcolor.imageio import read_image, read_provenance
from vidcolor.metrics import colourfulness, psnr
from vidcolor.models import store
from vidcolor.models.protocol import ColorModel


class OracleColorizer(ColorModel):
    """Predicts the true a/b of one known picture (at whatever size, and either way round, it is asked)."""

    name = "oracle"
    render_size = 64
    multiple = 8

    def __init__(self, truth):
        self.L, self.ab = color.rgb_to_lab(truth)

    def predict_ab(self, L, global_features=None):
        import cv2

        n, h, w = np.shape(L)
        ab = cv2.resize(self.ab, (w, h), interpolation=cv2.INTER_AREA)
        own = cv2.resize(self.L, (w, h), interpolation=cv2.INTER_AREA)
        mirrored = [np.abs(x - own[:, ::-1]).mean() < np.abs(x - own).mean() for x in L]
        return np.stack([ab[:, ::-1] if m else ab for m in mirrored])


class GreyColorizer(ColorModel):
    name = "grey"
    render_size = 32
    multiple = 8

    def predict_ab(self, L, global_features=None):
        return np.zeros(np.shape(L) + (2,), np.float32)


def _picture(seed, h=40, w=56):
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 216, (h // 8, w // 8, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(base).resize((w, h), Image.BICUBIC))


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "set"
    (folder / "people").mkdir(parents=True)
    Image.fromarray(_picture(1)).save(folder / "a.png")
    Image.fromarray(_picture(2)).save(folder / "b.png")
    Image.fromarray(_picture(3, 48, 32)).save(folder / "people" / "c.png")
    grey = color.l_to_grey_rgb(color.rgb_to_l(_picture(4)))
    Image.fromarray(grey[..., 0]).save(folder / "grey.png")  # no colour to measure: skipped
    return folder


def test_a_grey_prediction_scores_the_grey_baseline(photos):
    result = evaluate_folder(photos, model=GreyColorizer())
    overall = result["overall"]
    assert overall["count"] == 3
    # Equal but for 8-bit encodings that differ by a level at rare roundings (see color.py).
    assert overall["psnr"] == pytest.approx(overall["grey_psnr"], abs=1e-3)
    assert overall["colourfulness"] == pytest.approx(0.0, abs=1e-9)
    assert overall["delta_colourfulness"] == pytest.approx(overall["truth_colourfulness"])
    assert [s["name"].endswith("grey.png") for s in result["skipped"]] == [True]
    assert [(s["set"], s["count"]) for s in result["sets"]] == [("set", 2), ("people", 1)]


def test_score_of_a_perfect_prediction():
    truth = _picture(5)
    numbers, grey, ours = score_image(truth, OracleColorizer(truth), render_size=56)
    assert numbers["psnr"] > 40 > numbers["grey_psnr"]
    assert numbers["colourfulness"] == pytest.approx(numbers["truth_colourfulness"], rel=0.02)
    assert numbers["grey_psnr"] == pytest.approx(psnr(grey, truth))
    assert colourfulness(grey) == 0.0


def test_limit_and_contact_sheet(photos, tmp_path):
    sheet = tmp_path / "sheet.png"
    result = evaluate_folder(photos, model=GreyColorizer(), limit=2, sheet=sheet)
    assert result["overall"]["count"] == 2
    image = read_image(sheet).rgb
    assert image.shape[0] > 2 * 128 and read_provenance(sheet) is not None
    # A second run replaces the sheet: it is a report, not a user's picture.
    evaluate_folder(photos, model=GreyColorizer(), limit=1, sheet=sheet)
    assert read_image(sheet).rgb.shape[0] < image.shape[0]


def test_contact_sheet_layout():
    rows = [(_picture(1), _picture(2), _picture(3)), (_picture(4, 32, 64),) * 3]
    sheet = contact_sheet(rows, height=20)
    assert sheet.dtype == np.uint8 and sheet.shape[2] == 3
    assert sheet.shape[0] == 24 + 2 * (20 + 4) + 4


def test_errors(tmp_path):
    with pytest.raises(VidcolorError, match="no such folder"):
        evaluate_folder(tmp_path / "nope", model=GreyColorizer())
    Image.fromarray(np.full((8, 8), 99, np.uint8)).save(tmp_path / "g.png")
    with pytest.raises(VidcolorError, match="no colour pictures"):
        evaluate_folder(tmp_path, model=GreyColorizer())


def test_cli_eval_prints_table_and_json_last(photos, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(store, "load_model", lambda directory=None: GreyColorizer())
    sheet = tmp_path / "s.png"
    assert cli.main(["eval", str(photos), "--sheet", str(sheet), "--render-size", "40"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert {"psnr", "colourfulness", "delta_colourfulness", "grey_psnr", "count"} <= set(summary)
    assert summary["count"] == 3
    assert any(line.startswith("people") for line in lines)
    assert sheet.is_file()
    assert "grey.png" in captured.err
    assert cli.main(["eval", str(photos), "--limit", "1"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["count"] == 1
