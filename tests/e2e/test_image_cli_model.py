"""End to end: `vidcolor image` with a real (untrained, tiny) saved model, through Keras."""

import numpy as np
import pytest
from PIL import Image

from vidcolor import cli, color
from vidcolor.imageio import read_image, read_provenance


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    pytest.importorskip("keras")
    from vidcolor.models import import_keras

    import_keras()  # the package no longer imports Keras itself; quietly, as load_model does
    from vidcolor.models import nets, store

    directory = tmp_path_factory.mktemp("models") / "tiny"
    store.save_model(nets.build("alpha"), directory,
                     {"arch": "alpha", "build": {}, "name": "test", "render_size": 64})
    return directory


def test_image_command_with_a_saved_model(tmp_path, model_dir):
    rng = np.random.default_rng(0)
    rgb = np.asarray(Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
                     .resize((80, 60), Image.BICUBIC))
    Image.fromarray(rgb).save(tmp_path / "x.png")
    assert cli.main(["image", str(tmp_path / "x.png"), "-o", str(tmp_path / "y.png"),
                     "--model", str(model_dir)]) == 0
    out = read_image(tmp_path / "y.png").rgb
    assert out.shape == rgb.shape
    assert np.abs(color.rgb_to_l(out) - color.rgb_to_l(rgb)).max() < 0.5
    assert read_provenance(tmp_path / "y.png").endswith("model test")
