"""vidcolor.imageio: reading every supported kind of picture, and safe, marked writing."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from support import packages_loaded_by
from vidcolor.errors import VidcolorError
from vidcolor.imageio import (apply_orientation, find_pictures, provenance_text, read_image,
                              read_provenance, write_bytes_atomic, write_image)

MARK = "colorized by vidcolor 0.0.test, model unit"


def _random(shape, dtype, seed=0):
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top + 1, shape, dtype=dtype)


def test_provenance_text_names_version_and_model():
    from vidcolor import __version__

    assert provenance_text("fusion-v1") == f"colorized by vidcolor {__version__}, model fusion-v1"


def test_provenance_text_and_finding_pictures_need_no_pillow(tmp_path):
    # The film pipeline marks its outputs with the same text and never decodes a still.
    code = ("import sys; sys.modules['PIL'] = None; from vidcolor import imageio; "
            "print(imageio.provenance_text('m')); print(len(imageio.find_pictures(sys.argv[1])))")
    (tmp_path / "a.png").write_bytes(b"")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [*provenance_text("m").split(), "1"]


def test_provenance_atomic_writes_and_the_folder_walk_import_no_image_library():
    # Their own modules, so that a film job uses them without loading any picture decoder.
    assert packages_loaded_by("import vidcolor.atomic, vidcolor.picture_files, "
                              "vidcolor.provenance", {"PIL", "cv2", "tifffile"}) == []


def test_find_pictures_by_name_sorted_skipping_hidden_and_excluded(tmp_path):
    for rel in ("b.JPG", "a.png", "sub/c.tiff", "sub/notes.txt", ".hidden.png",
                ".cache/d.png", "sub/.e.webp.part", "out/f.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "folder.png").mkdir()  # a folder is not a picture, whatever its name
    names = [p.relative_to(tmp_path).as_posix() for p in find_pictures(tmp_path)]
    assert names == ["a.png", "b.JPG", "out/f.png", "sub/c.tiff"]
    excluded = find_pictures(tmp_path, exclude=tmp_path / "out")
    assert [p.name for p in excluded] == ["a.png", "b.JPG", "c.tiff"]
    # Hidden means below the folder searched: a hidden folder itself may be searched.
    assert [p.name for p in find_pictures(tmp_path / ".cache")] == ["d.png"]


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_lossless_round_trip_keeps_depth_alpha_and_mark(tmp_path, suffix, dtype, with_alpha):
    rgb = _random((5, 7, 3), dtype)
    alpha = _random((5, 7), dtype, seed=1) if with_alpha else None
    path = tmp_path / f"x{suffix}"
    write_image(path, rgb, alpha, mark=MARK)
    picture = read_image(path)
    assert picture.rgb.dtype == dtype and picture.bits == 8 * np.dtype(dtype).itemsize
    np.testing.assert_array_equal(picture.rgb, rgb)
    if with_alpha:
        np.testing.assert_array_equal(picture.alpha, alpha)
    else:
        assert picture.alpha is None
    assert read_provenance(path) == MARK


@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg"])
def test_a_model_name_in_another_script_is_written_into_every_format(tmp_path, suffix):
    # TIFF's text fields are 7-bit ASCII: tifffile refused such a mark with a traceback.
    mark = MARK + " (modèle Ω)"
    path = tmp_path / f"x{suffix}"
    write_image(path, _random((5, 7, 3), np.uint8), mark=mark)
    read = read_provenance(path)
    assert read.startswith(MARK) and "mod" in read and read != MARK


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_lossy_formats_carry_the_mark_and_reduce_16_bit(tmp_path, suffix):
    rgb16 = np.full((6, 8, 3), 40000, np.uint16)
    path = tmp_path / f"x{suffix}"
    write_image(path, rgb16, mark=MARK)
    picture = read_image(path)
    assert picture.rgb.dtype == np.uint8
    assert np.abs(picture.rgb.astype(int) - round(40000 * 255 / 65535)).max() <= 2
    assert read_provenance(path) == MARK


def test_webp_keeps_alpha_exactly(tmp_path):
    rgb = np.full((6, 8, 3), 120, np.uint8)
    alpha = _random((6, 8), np.uint8)
    write_image(tmp_path / "x.webp", rgb, alpha, mark=MARK)
    np.testing.assert_array_equal(read_image(tmp_path / "x.webp").alpha, alpha)


def test_unicode_model_name_in_png(tmp_path):
    mark = "colorized by vidcolor 0.1.0, model Fotografía-東京"
    write_image(tmp_path / "u.png", _random((3, 3, 3), np.uint8), mark=mark)
    assert read_provenance(tmp_path / "u.png") == mark


def test_originals_have_no_mark(tmp_path):
    Image.fromarray(_random((4, 4, 3), np.uint8)).save(tmp_path / "o.png")
    assert read_provenance(tmp_path / "o.png") is None


def test_jpeg_refuses_alpha_and_bmp_is_not_written(tmp_path):
    rgb, alpha = _random((4, 4, 3), np.uint8), _random((4, 4), np.uint8)
    with pytest.raises(VidcolorError, match="alpha"):
        write_image(tmp_path / "x.jpg", rgb, alpha, mark=MARK)
    with pytest.raises(VidcolorError, match="BMP"):
        write_image(tmp_path / "x.bmp", rgb, mark=MARK)
    assert list(tmp_path.iterdir()) == []
    # A fully opaque alpha channel loses nothing in a JPEG.
    write_image(tmp_path / "x.jpg", rgb, np.full((4, 4), 255, np.uint8), mark=MARK)
    assert read_image(tmp_path / "x.jpg").alpha is None


def test_never_overwrites_without_permission(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"precious")
    with pytest.raises(VidcolorError, match="exists"):
        write_image(path, _random((4, 4, 3), np.uint8), mark=MARK)
    assert path.read_bytes() == b"precious"
    write_image(path, _random((4, 4, 3), np.uint8), mark=MARK, overwrite=True)
    assert read_provenance(path) == MARK
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]  # no temporary left


def test_atomic_write_leaves_no_partial_file_on_failure(tmp_path, monkeypatch):
    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_bytes_atomic(tmp_path / "x.png", b"data")
    assert list(tmp_path.iterdir()) == []


def test_written_files_get_normal_permissions(tmp_path):
    write_image(tmp_path / "x.png", _random((2, 2, 3), np.uint8), mark=MARK)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "x.png").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pillow(tmp_path, orientation):
    base = _random((4, 6, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.png"  # lossless, so the comparison is exact
    Image.fromarray(base).save(path, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    np.testing.assert_array_equal(read_image(path).rgb, expected)


def test_exif_orientation_of_a_jpeg(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    Image.fromarray(_random((20, 40, 3), np.uint8)).save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").rgb.shape == (40, 20, 3)


def test_apply_orientation_transposes_alpha_too():
    alpha = np.arange(6).reshape(2, 3)
    assert apply_orientation(alpha, 8).shape == (3, 2)
    np.testing.assert_array_equal(apply_orientation(alpha, 1), alpha)
    np.testing.assert_array_equal(apply_orientation(alpha, 99), alpha)


def test_8_bit_tiff_orientation_tag(tmp_path):
    rgb = _random((4, 6, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(tmp_path / "o.tif", exif=exif)
    np.testing.assert_array_equal(read_image(tmp_path / "o.tif").rgb, apply_orientation(rgb, 6))


def test_16_bit_tiff_orientation_tag(tmp_path):
    rgb = _random((4, 6, 3), np.uint16)
    tifffile.imwrite(tmp_path / "o.tif", rgb, photometric="rgb",
                     extratags=[(274, "H", 1, 8, True)])
    np.testing.assert_array_equal(read_image(tmp_path / "o.tif").rgb, apply_orientation(rgb, 8))


def test_16_bit_grey_png_and_grey_alpha_tiff(tmp_path):
    grey = _random((5, 6), np.uint16)
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    picture = read_image(tmp_path / "g.png")
    assert picture.rgb.dtype == np.uint16 and picture.alpha is None
    for c in range(3):
        np.testing.assert_array_equal(picture.rgb[..., c], grey)

    grey_alpha = _random((5, 6, 2), np.uint16)
    tifffile.imwrite(tmp_path / "ga.tif", grey_alpha, photometric="minisblack",
                     extrasamples=["unassalpha"])
    picture = read_image(tmp_path / "ga.tif")
    np.testing.assert_array_equal(picture.rgb[..., 0], grey_alpha[..., 0])
    np.testing.assert_array_equal(picture.alpha, grey_alpha[..., 1])


def test_16_bit_lzw_tiff_without_imagecodecs(tmp_path):
    rgb = _random((4, 6, 3), np.uint16)
    cv2.imwrite(str(tmp_path / "lzw.tif"), rgb[..., ::-1].copy())  # OpenCV writes LZW
    np.testing.assert_array_equal(read_image(tmp_path / "lzw.tif").rgb, rgb)


def test_8_bit_kinds(tmp_path):
    grey = _random((4, 5), np.uint8)
    Image.fromarray(grey).save(tmp_path / "g.bmp")
    picture = read_image(tmp_path / "g.bmp")
    assert picture.format == "BMP" and picture.rgb.shape == (4, 5, 3)
    np.testing.assert_array_equal(picture.rgb[..., 2], grey)

    palette = Image.fromarray(np.arange(20, dtype=np.uint8).reshape(4, 5) % 3, "P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    palette.save(tmp_path / "p.png", transparency=1)
    picture = read_image(tmp_path / "p.png")
    assert picture.alpha is not None
    assert set(np.unique(picture.alpha)) == {0, 255}

    la = np.dstack([grey, 255 - grey])
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    picture = read_image(tmp_path / "la.png")
    np.testing.assert_array_equal(picture.alpha, 255 - grey)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\0\0"])
def test_corrupt_files_raise_one_line_error_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(VidcolorError) as info:
        read_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_jpeg(tmp_path):
    Image.fromarray(_random((64, 64, 3), np.uint8)).save(tmp_path / "t.jpg", quality=90)
    data = (tmp_path / "t.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(VidcolorError, match="t.jpg"):
        read_image(tmp_path / "t.jpg")


def test_missing_file(tmp_path):
    with pytest.raises(VidcolorError, match="no such file"):
        read_image(tmp_path / "nope.png")
