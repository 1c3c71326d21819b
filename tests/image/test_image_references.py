"""Reference photos for pictures (``vidcolor image --reference``): objects the photo shows
elsewhere take its colours, content it lacks keeps the model's, a hint wins at its place, and
the command refuses a bad reference in one line before any work."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from support import MatchingFake
from vidcolor import cli, color
from vidcolor.colorize import ImageColorizer
from vidcolor.hints import square_hints
from vidcolor.imageio import write_image
from vidcolor.models import store
from vidcolor.options import ImageOptions, Reference

# Lightness of the background and the objects (the matching fake tells lightness apart).
BACKGROUND, DISC, SQUARE, LAMP = 50.0, 30.0, 70.0, 90.0
RED, BLUE, BACK_AB = (40.0, 25.0), (5.0, -40.0), (0.0, 0.0)


def _scene(shape, disc_at, square_at, lamp_at=None):
    """L and a/b of a scene: a disc (red) and a square (blue) on a grey background; a lamp
    (L 90, yellow) where ``lamp_at`` is given."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    L = np.full(shape, BACKGROUND, np.float32)
    ab = np.zeros(shape + (2,), np.float32)
    parts = [((yy - disc_at[0]) ** 2 + (xx - disc_at[1]) ** 2 < 30 ** 2, DISC, RED),
             ((abs(yy - square_at[0]) < 28) & (abs(xx - square_at[1]) < 28), SQUARE, BLUE)]
    if lamp_at is not None:
        parts.append(((abs(yy - lamp_at[0]) < 28) & (abs(xx - lamp_at[1]) < 28), LAMP,
                      (0.0, 60.0)))
    for mask, lightness, chroma in parts:
        L[mask], ab[mask] = lightness, chroma
    return L, ab


@pytest.fixture
def photos(tmp_path):
    """A grey picture with the disc, the square and a lamp, and a colour reference showing the
    disc and the square elsewhere (no lamp); the picture's object centres."""
    L, _ = _scene((192, 256), (60, 60), (130, 190), lamp_at=(140, 60))
    L_ref, ab_ref = _scene((192, 256), (120, 180), (60, 70))
    grey = color.l_to_grey_rgb(L)
    reference = tmp_path / "reference.png"
    write_image(reference, color.lab_to_rgb(L_ref, ab_ref), mark="test reference")
    return grey, reference, {"disc": (60, 60), "square": (130, 190), "lamp": (140, 60)}


def _colorize(grey, references=(), hints=None):
    options = ImageOptions(render_size=128, references=tuple(references))
    out = ImageColorizer(MatchingFake(chroma="ramp", render_size=128, multiple=8,
                                      check_shapes=False), options).colorize(grey, hints=hints)
    return color.rgb_to_lab(out)[1]


def _near(ab, target, tolerance):
    return float(np.hypot(*(np.asarray(ab) - target))) < tolerance


def test_objects_moved_in_the_reference_take_its_colours(photos):
    grey, reference, at = photos
    ab = _colorize(grey, [Reference(str(reference))])
    automatic = _colorize(grey)
    for name, colour in (("disc", RED), ("square", BLUE)):
        assert _near(ab[at[name]], colour, 8), (name, ab[at[name]])
        assert not _near(automatic[at[name]], colour, 20)


def test_content_the_reference_lacks_keeps_the_models_colour(photos):
    grey, reference, at = photos
    ab = _colorize(grey, [Reference(str(reference))])
    automatic = _colorize(grey)
    assert _near(ab[at["lamp"]], automatic[at["lamp"]], 3)


def test_a_hint_beats_the_reference_at_its_place(photos):
    grey, reference, at = photos
    green = np.float32([-45.0, 35.0])
    hints = square_hints(grey.shape[:2], np.array([at["disc"]]), np.array([3]), green[None])
    ab = _colorize(grey, [Reference(str(reference))], hints)
    hinted = _colorize(grey, hints=hints)  # green as far as the disc's lightness allows
    assert _near(ab[at["disc"]], hinted[at["disc"]], 3), (ab[at["disc"]], hinted[at["disc"]])
    assert _near(hinted[at["disc"]], green, 15) and not _near(ab[at["disc"]], RED, 40)
    assert _near(ab[at["square"]], BLUE, 8)  # the reference still colours the rest


def test_tiles_take_the_whole_pictures_reference_colour(photos):
    grey, reference, at = photos
    options = ImageOptions(render_size=64, tile=48, references=(Reference(str(reference)),))
    model = MatchingFake(chroma="ramp", render_size=64, multiple=8, check_shapes=False)
    ab = color.rgb_to_lab(ImageColorizer(model, options).colorize(grey))[1]
    assert _near(ab[at["disc"]], RED, 10), ab[at["disc"]]


# --- the command ---------------------------------------------------------------------------

@pytest.fixture
def loads(monkeypatch):
    """``vidcolor image`` with the matching fake; its loads counted (none when refused)."""
    counted = []

    def load(directory=None):
        counted.append(directory)
        return MatchingFake(chroma="ramp", render_size=128, multiple=8, check_shapes=False)

    monkeypatch.setattr(store, "load_model", load)
    return counted


def _one_error(capsys, *words):
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error:"), lines
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_cli_reference_colours_the_picture(tmp_path, photos, loads):
    grey, reference, at = photos
    Image.fromarray(grey).save(tmp_path / "grey.png")
    out = tmp_path / "out.png"
    assert cli.main(["image", str(tmp_path / "grey.png"), "-o", str(out),
                     "--reference", str(reference)]) == 0
    ab = color.rgb_to_lab(np.asarray(Image.open(out).convert("RGB")))[1]
    assert _near(ab[at["disc"]], RED, 8)


@pytest.mark.parametrize("content", [None, b"not a picture"])
def test_cli_unreadable_reference_is_one_line_before_the_model(tmp_path, photos, loads, capsys,
                                                             content):
    grey, _, _ = photos
    Image.fromarray(grey).save(tmp_path / "grey.png")
    bad = tmp_path / "bad.png"
    if content is not None:
        bad.write_bytes(content)
    out = tmp_path / "out.png"
    assert cli.main(["image", str(tmp_path / "grey.png"), "-o", str(out),
                     "--reference", str(bad)]) == 1
    _one_error(capsys, "bad.png")
    assert not loads and not out.exists()


def test_cli_reference_with_a_time_is_refused_for_a_photo(tmp_path, photos, loads, capsys):
    grey, reference, _ = photos
    Image.fromarray(grey).save(tmp_path / "grey.png")
    assert cli.main(["image", str(tmp_path / "grey.png"), "-o", str(tmp_path / "out.png"),
                     "--reference", f"{reference}@3.5"]) == 1
    _one_error(capsys, "--reference", f"{reference}@TIME", "no time")
    assert not loads


def test_a_model_without_match_features_is_refused_once(photos):
    from vidcolor.errors import OptionError

    class Featureless(MatchingFake):
        def match_features(self, L):
            return None

    _, reference, _ = photos
    options = ImageOptions(references=(Reference(str(reference)),))
    with pytest.raises(OptionError, match="--reference needs a model with match features"):
        ImageColorizer(Featureless(chroma="ramp", render_size=128, multiple=8), options)
