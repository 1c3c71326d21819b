"""`vidcolor image`: colorize_files and the promises of issue 3 item 1, with a fake model."""

import cv2
import numpy as np
import pytest
from PIL import Image

from vidcolor import cli, color
from vidcolor import colorize as colorize_module
from vidcolor.color import fit_gamut
from vidcolor.colorize import ImageColorizer, colorize_image, render_shape
from vidcolor.errors import VidcolorError
from vidcolor.imageio import read_image, read_provenance
from vidcolor.models import store
from vidcolor.options import ImageOptions
from vidcolor.photos import colorize_files, plan_outputs
from vidcolor.upsample import upsample_ab


def _max_l_error(a, b):
    return float(np.abs(color.rgb_to_l(a) - color.rgb_to_l(b)).max())


# --- the core ------------------------------------------------------------------------------

def test_render_shape_keeps_area_and_aspect():
    rh, rw = render_shape(3000, 4000, 256, 32)
    assert rh % 32 == 0 and rw % 32 == 0
    assert abs(rh * rw - 256 * 256) / (256 * 256) < 0.1
    assert abs(rw / rh - 4 / 3) < 0.1


def test_upsample_same_size_and_constant_chroma():
    L = np.random.default_rng(0).uniform(0, 100, (10, 12)).astype(np.float32)
    ab = np.random.default_rng(1).uniform(-50, 50, (10, 12, 2)).astype(np.float32)
    np.testing.assert_array_equal(upsample_ab(ab, L, L), ab)
    flat = np.full((10, 12, 2), (12.0, -7.0), np.float32)
    big_L = cv2.resize(L, (48, 40), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_allclose(upsample_ab(flat, L, big_L), np.full((40, 48, 2), (12, -7)),
                               atol=1e-3)


def test_upsample_does_not_bleed_across_a_strong_edge():
    # Full resolution: a dark red half and a bright blue half, the edge inside a render pixel.
    H, W, f = 64, 96, 8
    edge = 44  # not a multiple of f
    L = np.where(np.arange(W) < edge, 30.0, 80.0).astype(np.float32)[None].repeat(H, 0)
    ab = np.zeros((H, W, 2), np.float32)
    ab[:, :edge] = (40, 20)
    ab[:, edge:] = (-10, -40)
    small = (H // f, W // f)
    L_small = cv2.resize(L, small[::-1], interpolation=cv2.INTER_AREA)
    ab_small = cv2.resize(ab, small[::-1], interpolation=cv2.INTER_AREA)
    ours = upsample_ab(ab_small, L_small, L)
    plain = cv2.resize(ab_small, (W, H), interpolation=cv2.INTER_CUBIC)
    band = slice(edge - f, edge + f)  # two render pixels around the edge
    err_ours = np.abs(ours[:, band] - ab[:, band]).mean()
    err_plain = np.abs(plain[:, band] - ab[:, band]).mean()
    assert err_ours < 0.7 * err_plain  # measured: 0.6 with the default radius and eps
    # The full-resolution pixels right next to the edge lean to their own side's colour, more
    # than bicubic lets them.
    for x, own in ((edge - 2, (40, 20)), (edge + 1, (-10, -40))):
        ours_err = np.abs(ours[:, x] - own).max()
        assert ours_err < 0.5 * np.abs(np.subtract((40, 20), (-10, -40))).max()
        assert ours_err < np.abs(plain[:, x] - own).max()


def test_fit_gamut_keeps_lightness_and_hue(scene_picture):
    rng = np.random.default_rng(0)
    L = rng.uniform(0, 100, (40, 50)).astype(np.float32)
    ab = rng.uniform(-120, 120, (40, 50, 2)).astype(np.float32)
    fitted = fit_gamut(L, ab)
    scale = np.linalg.norm(fitted, axis=-1) / np.linalg.norm(ab, axis=-1)
    assert scale.max() <= 1 + 1e-6
    np.testing.assert_allclose(fitted, ab * scale[..., None], atol=1e-3)  # same direction
    for dtype, tol in ((np.uint8, 0.35), (np.uint16, 0.1)):
        assert _max_l_error(color.lab_to_rgb(L, fitted, dtype),
                            color.l_to_grey_rgb(L, np.uint16)) < tol
    in_gamut = scene_picture()
    L_in, ab_in = color.rgb_to_lab(in_gamut)
    np.testing.assert_allclose(fit_gamut(L_in, ab_in), ab_in, atol=1e-4)


def test_colorize_image_keeps_size_dtype_and_lightness(picture_fake, scene_picture):
    model = picture_fake()
    for dtype, tol in ((np.uint8, 0.5), (np.uint16, 0.1)):
        rgb = scene_picture(37, 53, dtype)
        out = colorize_image(rgb, model)
        assert out.shape == rgb.shape and out.dtype == dtype
        assert _max_l_error(out, rgb) < tol
    # Three scales of views, each a batch of the view and its mirror; the middle one the render.
    assert [s[0] for s in model.shapes[-3:]] == [2, 2, 2]
    assert model.shapes[-2][1:] == render_shape(37, 53, 32, 8)
    colorize_image(scene_picture(37, 53), model, ImageOptions(render_size=64))
    assert model.shapes[-2][1:] == render_shape(37, 53, 64, 8)


def test_views_are_mirrored_back_and_resized_before_they_are_averaged():
    full = np.tile(np.linspace(0, 100, 300, dtype=np.float32), (200, 1))
    calls = []

    def shrink(shape):
        return colorize_module.resize_l(full, shape)

    def pointwise(batch):  # mirror- and scale-equivariant: every view agrees
        calls.append(batch.shape)
        return np.stack([batch - 50, 0.5 * batch], -1)

    ab, L = colorize_module.predict_views(pointwise, shrink, full.shape, 80, multiple=16)
    assert ab.shape == (64, 96, 2) and L.shape == (64, 96)
    np.testing.assert_array_equal(L, shrink((64, 96)))
    # 7/8, 1 and 9/8 of the render (rounded to multiples of 16), each with its mirror image.
    assert calls == [(2, 64, 80), (2, 64, 96), (2, 80, 112)]
    np.testing.assert_allclose(ab[:, 2:-2, 0], L[:, 2:-2] - 50, atol=0.6)

    def ramp(batch):  # a/b that follows the view's own columns, not the picture's
        n, h, w = batch.shape
        a = np.broadcast_to(np.linspace(-40, 40, w, dtype=np.float32), (n, h, w))
        return np.stack([a, np.zeros_like(a)], -1)

    # A view and its mirror, each put back the picture's way round, cancel the ramp.
    assert np.abs(colorize_module.predict_views(ramp, shrink, full.shape, 80, 16)[0][..., 0]).max() < 1.0


# --- files and folders ---------------------------------------------------------------------

def test_single_file_16_bit_alpha_provenance(tmp_path, picture_fake, scene_picture, save_picture):
    rgb = scene_picture(dtype=np.uint16)
    alpha = np.random.default_rng(3).integers(0, 65536, rgb.shape[:2], dtype=np.uint16)
    src = save_picture(tmp_path / "in.png", rgb, alpha)
    assert not colorize_files([src], tmp_path / "out.png", ImageColorizer(picture_fake())).failures
    out = read_image(tmp_path / "out.png")
    assert out.rgb.dtype == np.uint16 and out.rgb.shape == rgb.shape
    np.testing.assert_array_equal(out.alpha, alpha)
    assert _max_l_error(out.rgb, rgb) < 0.1
    assert color.rgb_to_lab(out.rgb)[1].std() > 5  # it was coloured, not copied
    assert read_provenance(tmp_path / "out.png") == (
        f"colorized by vidcolor {__import__('vidcolor').__version__}, model fake")


def test_16_bit_tiff_in_gives_16_bit_tiff_out(tmp_path, picture_fake, scene_picture, save_picture):
    src = save_picture(tmp_path / "scan.tif", scene_picture(dtype=np.uint16))
    assert not colorize_files([src], tmp_path / "out.tif", ImageColorizer(picture_fake())).failures
    assert read_image(tmp_path / "out.tif").rgb.dtype == np.uint16
    assert read_provenance(tmp_path / "out.tif").startswith("colorized by vidcolor")


def test_jpeg_output_has_the_mark(tmp_path, picture_fake, scene_picture, save_picture):
    src = save_picture(tmp_path / "in.png", scene_picture())
    assert not colorize_files([src], tmp_path / "out.jpg", ImageColorizer(picture_fake())).failures
    assert read_provenance(tmp_path / "out.jpg").endswith("model fake")


def test_exif_rotation_is_applied(tmp_path, picture_fake, scene_picture):
    upright = scene_picture(48, 32)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # as a camera lying on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    Image.fromarray(stored).save(tmp_path / "cam.png", exif=exif)
    assert not colorize_files([tmp_path / "cam.png"], tmp_path / "out.png",
                              ImageColorizer(picture_fake())).failures
    out = read_image(tmp_path / "out.png").rgb
    assert out.shape == upright.shape
    assert _max_l_error(out, upright) < 0.5


def test_sepia_input_only_its_lightness_counts(tmp_path, picture_fake, scene_picture):
    grey = color.l_to_grey_rgb(color.rgb_to_l(scene_picture()))
    L = color.rgb_to_l(grey)
    sepia = color.lab_to_rgb(L, fit_gamut(L, np.full(L.shape + (2,), (8.0, 22.0), np.float32)))
    assert color.rgb_to_lab(sepia)[1][..., 1].mean() > 15
    model = picture_fake()
    from_grey = colorize_image(grey, model)
    from_sepia = colorize_image(sepia, model)
    # Same L up to the 8-bit rounding of the sepia picture: same colours.
    assert np.abs(from_grey.astype(int) - from_sepia.astype(int)).max() <= 3


def test_folder_in_gives_folder_out_with_same_names(tmp_path, picture_fake, scene_picture,
                                                    save_picture):
    src = tmp_path / "album"
    (src / "1950s").mkdir(parents=True)
    save_picture(src / "a.png", scene_picture(seed=1))
    save_picture(src / "1950s" / "b.jpg", scene_picture(40, 30, seed=2))
    save_picture(src / "c.bmp", scene_picture(seed=3))
    (src / "notes.txt").write_text("not a picture")
    save_picture(src / ".hidden.png", scene_picture())
    out = tmp_path / "colour"
    assert not colorize_files([src], out, ImageColorizer(picture_fake())).failures
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["1950s/b.jpg", "a.png", "c.png"]  # BMP cannot hold the mark: PNG
    assert read_image(out / "1950s" / "b.jpg").rgb.shape == (40, 30, 3)
    for name in written:
        assert read_provenance(out / name) is not None


def test_several_inputs_and_output_inside_input(tmp_path, picture_fake, scene_picture,
                                                save_picture):
    src = tmp_path / "pics"
    src.mkdir()
    save_picture(src / "a.png", scene_picture())
    save_picture(tmp_path / "loose.png", scene_picture())
    out = src / "colour"  # inside the input folder: its contents must not be taken as inputs
    assert not colorize_files([src, tmp_path / "loose.png"], out,
                              ImageColorizer(picture_fake())).failures
    assert (out / "pics" / "a.png").is_file() and (out / "loose.png").is_file()
    # Second run: no recursion.
    assert not colorize_files([src], out, ImageColorizer(picture_fake())).failures
    assert not (out / "colour").exists()


def test_corrupt_file_in_folder_others_still_done(tmp_path, capsys, picture_fake, scene_picture,
                                                  save_picture):
    src = tmp_path / "in"
    src.mkdir()
    save_picture(src / "good1.png", scene_picture(seed=1))
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    save_picture(src / "good2.png", scene_picture(seed=2))
    counts = []
    report = colorize_files([src], tmp_path / "out", ImageColorizer(picture_fake()),
                            progress=lambda *args: counts.append(args))
    assert report.failures
    assert (tmp_path / "out" / "good1.png").is_file() and (tmp_path / "out" / "good2.png").is_file()
    assert not (tmp_path / "out" / "broken.jpg").exists()
    errors = [line for line in capsys.readouterr().err.splitlines() if "broken.jpg" in line]
    assert len(errors) == 1 and errors[0].startswith("vidcolor: error:")
    # The report says the same, and progress counted every picture, failed or not.
    assert report.outputs == [tmp_path / "out" / "good1.png", tmp_path / "out" / "good2.png"]
    assert [(path, f"vidcolor: error: {message}") for path, message in report.failures] == [
        (src / "broken.jpg", errors[0])]
    assert report.count == 3 and counts == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_existing_outputs_are_not_overwritten(tmp_path, capsys, picture_fake, scene_picture,
                                              save_picture):
    src = save_picture(tmp_path / "in.png", scene_picture())
    dst = tmp_path / "out.png"
    dst.write_bytes(b"someone's work")
    assert colorize_files([src], dst, ImageColorizer(picture_fake())).failures
    assert dst.read_bytes() == b"someone's work"
    assert "--overwrite" in capsys.readouterr().err
    assert not colorize_files([src], dst, ImageColorizer(picture_fake()), overwrite=True).failures
    assert read_provenance(dst) is not None


def test_plan_errors_before_any_work(tmp_path, scene_picture, save_picture):
    src = save_picture(tmp_path / "a.png", scene_picture())
    with pytest.raises(VidcolorError, match="no such file"):
        plan_outputs([tmp_path / "missing.png"], tmp_path / "o.png")
    with pytest.raises(VidcolorError, match=r"\.bmp"):
        plan_outputs([src], tmp_path / "o.bmp")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VidcolorError, match="no pictures"):
        plan_outputs([tmp_path / "empty"], tmp_path / "o")
    save_picture(tmp_path / "a.bmp", scene_picture())
    with pytest.raises(VidcolorError, match="both"):  # a.png and a.bmp -> a.png
        plan_outputs([src, tmp_path / "a.bmp"], tmp_path / "o")
    jobs, folder_mode = plan_outputs([src], str(tmp_path / "newdir") + "/")
    assert folder_mode and jobs == [(src, tmp_path / "newdir" / "a.png")]


# --- the command ---------------------------------------------------------------------------

def test_cli_image_folder(tmp_path, monkeypatch, picture_fake, scene_picture, save_picture):
    monkeypatch.setattr(store, "load_model", lambda directory=None: picture_fake())
    (tmp_path / "in").mkdir()
    save_picture(tmp_path / "in" / "x.png", scene_picture())
    assert cli.main(["image", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                     "--render-size", "48"]) == 0
    assert (tmp_path / "out" / "x.png").is_file()


def test_cli_missing_shipped_model_is_one_line_error(tmp_path, monkeypatch, capsys, scene_picture,
                                                     save_picture):
    monkeypatch.setattr(store, "DEFAULT_MODEL_DIR", tmp_path / "no-model")
    src = save_picture(tmp_path / "x.png", scene_picture())
    assert cli.main(["image", str(src), "-o", str(tmp_path / "y.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "shipped model is missing" in err and "--model" in err
    assert cli.main(["image", str(src), "-o", str(tmp_path / "y.png"),
                     "--model", str(tmp_path / "nowhere")]) == 1
    assert "no such model directory" in capsys.readouterr().err


def test_strips_of_a_picture_equal_the_whole(monkeypatch, picture_fake, scene_picture):
    rgb = scene_picture(45, 64)
    model = picture_fake()
    whole = colorize_image(rgb, model)
    L = color.rgb_to_l(rgb)
    # The same colours as the reference path: 8-bit output is encoded by vidcolor's table,
    # the reference by OpenCV's sRGB curve, which differ by a level at rare roundings.
    ab_small, L_small = ImageColorizer(model, ImageOptions(tile=0)).predict_small(
        lambda rows: L[rows], L.shape)
    radius = colorize_module.gamut_radius(L.shape[0], L_small.shape[0])
    reference = color.lab_to_rgb(L, fit_gamut(L, upsample_ab(ab_small, L_small, L), radius=radius))
    assert np.abs(whole.astype(int) - reference).max() <= 1
    assert np.mean(whole != reference) < 0.01
    monkeypatch.setattr(colorize_module, "_STRIP_ROWS", 7)  # 45 rows: 7 strips, a short one
    strips = colorize_image(rgb, model)
    # OpenCV resizes a strip's render rows in another grouping: equal up to rare roundings.
    assert np.abs(strips.astype(int) - whole).max() <= 1
    assert np.mean(strips != whole) < 0.01
    ab_small = model.predict_ab(L[None, ::4, ::4])[0]
    L_small = L[::4, ::4]
    full = upsample_ab(ab_small, L_small, L)
    np.testing.assert_allclose(upsample_ab(ab_small, L_small, L, rows=slice(10, 17)),
                               full[10:17], atol=1e-3)


def test_a_picture_too_large_for_memory_does_not_end_the_run(tmp_path, monkeypatch, capsys,
                                                             picture_fake, scene_picture,
                                                             save_picture):
    (tmp_path / "in").mkdir()
    # "huge": told apart by its height
    save_picture(tmp_path / "in" / "huge.png", scene_picture(50, 70))
    save_picture(tmp_path / "in" / "small.png", scene_picture(48, 64))
    real = ImageColorizer.colorize

    def colorize_or_fail(self, rgb, out=None):
        if rgb.shape[0] == 50:
            raise MemoryError
        return real(self, rgb, out)

    monkeypatch.setattr(ImageColorizer, "colorize", colorize_or_fail)
    assert colorize_files([tmp_path / "in"], tmp_path / "out",
                          ImageColorizer(picture_fake())).failures
    assert (tmp_path / "out" / "small.png").is_file()
    assert "huge.png: too large" in capsys.readouterr().err
