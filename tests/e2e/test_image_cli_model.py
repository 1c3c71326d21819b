"""End to end: `vidcolor image` with a real (untrained, tiny) saved model, through Keras."""

import numpy as np
from PIL import Image

from vidcolor import cli, color
from vidcolor.imageio import read_image, read_provenance


def test_image_command_with_a_saved_model(tmp_path, tiny_model_dir):
    rng = np.random.default_rng(0)
    rgb = np.asarray(Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
                     .resize((80, 60), Image.BICUBIC))
    Image.fromarray(rgb).save(tmp_path / "x.png")
    assert cli.main(["image", str(tmp_path / "x.png"), "-o", str(tmp_path / "y.png"),
                     "--model", str(tiny_model_dir)]) == 0
    out = read_image(tmp_path / "y.png").rgb
    assert out.shape == rgb.shape
    assert np.abs(color.rgb_to_l(out) - color.rgb_to_l(rgb)).max() < 0.5
    assert read_provenance(tmp_path / "y.png").endswith("model test")
