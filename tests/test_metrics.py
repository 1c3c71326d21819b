import numpy as np
import pytest

from support import DATA
from vidcolor import color
from vidcolor.metrics import colourfulness, psnr

CBSD68 = DATA / "val" / "cbsd68"


def test_psnr_identical_is_infinite():
    image = np.random.default_rng(0).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    assert psnr(image, image) == float("inf")


def test_psnr_known_value():
    truth = np.zeros((4, 5, 3), np.uint8)
    prediction = np.ones((4, 5, 3), np.uint8)  # MSE 1
    assert psnr(prediction, truth) == pytest.approx(10 * np.log10(255.0 ** 2), abs=1e-9)


def test_psnr_rejects_other_dtypes_and_shapes():
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 5, 3), np.uint16), np.zeros((4, 5, 3), np.uint16))
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 5, 3), np.uint8), np.zeros((5, 4, 3), np.uint8))


def test_colourfulness_of_grey_is_zero():
    L = np.linspace(0, 100, 60, dtype=np.float32).reshape(6, 10)
    assert colourfulness(color.l_to_grey_rgb(L)) == 0.0


def test_colourfulness_hand_computed():
    # Half pure red, half black: rg is 255 or 0, yb is 127.5 or 0, each half the pixels, so
    # every mean and std is half the value: sqrt(127.5^2 + 63.75^2) * (1 + 0.3).
    image = np.zeros((2, 4, 3), np.uint8)
    image[:, :2, 0] = 255
    assert colourfulness(image) == pytest.approx(np.hypot(127.5, 63.75) * 1.3)


def test_colourfulness_uses_absolute_opponents():
    # Half the pixels have R - G = +100, half -100, and yb = 0 everywhere. With |rg| (DDColor)
    # rg is 100 everywhere: std 0, mean 100 -> 30. Signed rg would give std 100, mean 0 -> 100.
    image = np.empty((2, 2, 3), np.uint8)
    image[0] = (200, 100, 150)
    image[1] = (100, 200, 150)
    assert colourfulness(image) == pytest.approx(30.0)


@pytest.mark.skipif(not CBSD68.is_dir(), reason="shared data not present")
def test_cbsd68_reference_numbers():
    from vidcolor.imageio import read_image

    cfs, grey_psnrs = [], []
    for path in sorted(CBSD68.glob("*.png")):
        truth = read_image(path).rgb
        cfs.append(colourfulness(truth))
        grey_psnrs.append(psnr(color.l_to_grey_rgb(color.rgb_to_l(truth)), truth))
    assert len(cfs) == 68
    assert np.mean(cfs) == pytest.approx(33.86, abs=0.01)  # the data README's value
    # The README's 22.54 dB used OpenCV's approximate sRGB curve; ours is exact.
    assert np.mean(grey_psnrs) == pytest.approx(22.54, abs=0.05)
