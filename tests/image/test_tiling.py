"""Large stills (issue 5): tiles that share the whole image's context, bounded memory, no seams."""

import numpy as np
import pytest
import tifffile

from vidcolor import cli, color, tiling
from vidcolor import colorize as colorize_module
from vidcolor.colorize import ImageColorizer, colorize_image, resize_l, shrink_l
from vidcolor.imageio import read_image
from vidcolor.metrics import seam_ratios, seam_score
from vidcolor.models import store
from vidcolor.models.protocol import ColorModel
from vidcolor.options import ImageOptions
from vidcolor.photos import colorize_files


class TileFake(ColorModel):
    """A fake model whose tiles disagree: every call adds its own colour cast, as tiles that
    each guess alone would. Records what it was asked."""

    name = "tile-fake"
    render_size = 64
    multiple = 8

    def __init__(self, cast=4.0, global_features=False, interrupt_after=None):
        self.cast, self.calls, self.rng = cast, [], np.random.default_rng(0)
        self.uses_global_features = global_features
        self.interrupt_after = interrupt_after

    def global_features(self, L):
        return np.asarray(L, np.float32).mean(axis=(1, 2))[:, None] * np.ones((1, 3), np.float32)

    def predict_ab(self, L, global_features=None):
        L = np.asarray(L, np.float32)
        self.calls.append((L.shape, global_features))
        if self.interrupt_after is not None and len(self.calls) > self.interrupt_after:
            raise KeyboardInterrupt
        cast = self.rng.uniform(-self.cast, self.cast, 2).astype(np.float32)
        return np.stack([(L - 50) * 0.6, (50 - L) * 0.4], axis=-1) + cast


def _large_grey(h=600, w=900, dtype=np.uint8):
    """A smooth grey picture, like a scan upscaled a lot: no edges of its own."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    L = 50 + 20 * np.sin(x / 97) * np.cos(y / 71) + 15 * np.sin((x + 2 * y) / 151)
    return color.l_to_grey_rgb(L.astype(np.float32), dtype)


def _ab(rgb):
    return color.rgb_to_lab(rgb)[1]


# --- the grid and the weights --------------------------------------------------------------

@pytest.mark.parametrize("shape,tile,overlap", [((300, 500), 64, 16), ((64, 700), 64, 0),
                                                ((100, 100), 96, 48), ((30, 40), 64, 16),
                                                ((257, 129), 64, 31)])
def test_tile_grid_covers_the_image(shape, tile, overlap):
    grid = tiling.tile_grid(shape, tile, overlap)
    count = np.zeros(shape, int)
    for rows, cols in grid:
        assert 0 <= rows.start < rows.stop <= shape[0] and 0 <= cols.start < cols.stop <= shape[1]
        assert (rows.stop - rows.start, cols.stop - cols.start) == (min(tile, shape[0]),
                                                                      min(tile, shape[1]))
        count[rows, cols] += 1
    assert count.min() >= 1
    for length in shape:  # neighbours overlap by at least the overlap (to rounding)
        starts = tiling.tile_starts(length, tile, overlap)
        if len(starts) > 1:
            assert np.all(starts[:-1] + tile - starts[1:] >= overlap - 1)


def test_feather_weights_are_a_partition_of_unity():
    # Overlaps of exactly the ramp: the raw weights of neighbours sum to 1 everywhere.
    tile, overlap = 64, 16
    shape = (3 * (tile - overlap) + overlap, 4 * (tile - overlap) + overlap)
    total = np.zeros(shape)
    for rows, cols in tiling.tile_grid(shape, tile, overlap):
        w = tiling.feather_weights(rows, cols, shape, overlap)
        assert w.min() > 0 and w.max() <= 1
        total[rows, cols] += w
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    # Image borders are not feathered: nothing else covers them.
    first = tiling.feather_1d(0, tile, shape[1], overlap)
    assert first[0] == 1 and first[-1] < 0.01


def test_blend_of_uneven_overlaps_keeps_a_constant_and_never_dips():
    shape, tile, overlap = (150, 217), 64, 16  # uneven spreads: overlaps above the ramp
    total = np.zeros(shape)
    for rows, cols in tiling.tile_grid(shape, tile, overlap):
        total[rows, cols] += tiling.feather_weights(rows, cols, shape, overlap)
    assert total.min() >= 0.25  # about 1/2 per axis at worst
    const = np.array([7.0, -3.0], np.float32)
    L = np.zeros(shape, np.float32)
    out = tiling.blend_tiles(lambda t: np.broadcast_to(const, t.shape + (2,)), L, tile, overlap)
    np.testing.assert_allclose(out, np.broadcast_to(const, shape + (2,)), atol=1e-5)


def test_plan_tiles():
    assert tiling.plan_tiles(7680, 11520, 256, 32, tile=0) is None
    assert tiling.plan_tiles(321, 481, 256) is None  # small: one pass
    plan = tiling.plan_tiles(7680, 11520, 256, 32)
    assert plan.tile == 256 and plan.overlap == 64
    h, w = plan.work_shape
    assert abs(np.sqrt(h * w) - tiling.WORK_SCALE * 256) < 4 and abs(w / h - 1.5) < 0.01
    assert tiling.plan_tiles(7680, 11520, 256, 32, tile=100, overlap=90) == tiling.TilePlan(
        plan.work_shape, 96, 48)  # rounded to the multiple, overlap capped at half a tile
    assert tiling.plan_tiles(400, 600, 256, 32, tile=128).work_shape == (400, 600)


def test_shrink_l_in_strips_equals_one_resize(monkeypatch):
    L = color.rgb_to_l(_large_grey(203, 301))
    monkeypatch.setattr(colorize_module, "_STRIP_ROWS", 16)
    small = shrink_l(lambda rows: L[rows], L.shape, (40, 60))
    np.testing.assert_allclose(small, resize_l(L, (40, 60)), atol=2e-3)


# --- the seam score ------------------------------------------------------------------------

def test_seam_score_tells_a_step_from_a_clean_picture():
    import cv2

    # Smooth chroma, like a photo's upscaled 15x.
    small = np.random.default_rng(0).normal(0, 7, (24, 36, 2)).astype(np.float32)
    ab = cv2.resize(small, (540, 360), interpolation=cv2.INTER_CUBIC)
    assert 1.3 <= seam_score(ab) <= 2.6  # measured 1.55
    across, down = ab.copy(), ab.copy()
    across[:, 270:] += 4.0  # a 4-unit a/b step down the middle
    down[180:] += 4.0  # and one across
    assert seam_score(across) > 6 and seam_score(down) > 6  # measured 8.4 and 7.8
    ratios = seam_ratios(np.abs(np.diff(across, axis=1)).mean(axis=(0, 2)))
    assert ratios.argmax() == 269 and np.delete(ratios, 269).max() < 2.6


def test_seam_profiles_in_strips_equal_the_whole_picture():
    from benchmarks.seams import profiles
    from vidcolor.metrics import adjacent_differences

    rgb = np.random.default_rng(1).integers(0, 256, (101, 67, 3), dtype=np.uint8)
    for strips, whole in zip(profiles(rgb, strip_rows=17), adjacent_differences(_ab(rgb))):
        np.testing.assert_allclose(strips, whole, rtol=1e-5, atol=1e-6)


def test_tiled_output_has_no_seams_where_naive_tiles_do():
    rgb = _large_grey()
    model = TileFake(cast=4.0)
    out = colorize_image(rgb, model)
    assert len(model.calls) > 10  # it did tile: a render and many tiles
    assert seam_score(_ab(out)) <= 3.0

    # The same disagreeing tiles without feathering or anchoring: the seams the score is for.
    plan = tiling.plan_tiles(*rgb.shape[:2], 64, 8)
    L = color.rgb_to_l(rgb)
    L_work = resize_l(L, plan.work_shape)
    naive = tiling.tiled_ab(TileFake(cast=4.0), resize_l(L, (56, 80)), L_work,
                            tiling.TilePlan(plan.work_shape, plan.tile, 0), anchor_sigma=0)
    assert seam_score(naive) > 5


# --- colorize_image and files --------------------------------------------------------------

def test_tiled_equals_untiled_in_shape_dtype_and_lightness():
    for dtype, tol in ((np.uint8, 0.5), (np.uint16, 0.1)):
        rgb = _large_grey(300, 420, dtype)
        tiled = colorize_image(rgb, TileFake(cast=0), ImageOptions(tile=64))
        whole = colorize_image(rgb, TileFake(cast=0), ImageOptions(tile=0))
        assert tiled.shape == whole.shape == rgb.shape and tiled.dtype == whole.dtype == dtype
        for out in (tiled, whole):
            assert np.abs(color.rgb_to_l(out) - color.rgb_to_l(rgb)).max() < tol
        # The fake's colour is a function of L, which tiles see as well as the render does.
        assert np.abs(_ab(tiled) - _ab(whole)).mean() < 1.0


def test_output_written_over_the_input_is_the_same():
    rgb = _large_grey(200, 300)
    expected = colorize_image(rgb, TileFake(cast=0), ImageOptions(tile=64))
    buffer = rgb.copy()
    assert colorize_image(buffer, TileFake(cast=0), ImageOptions(tile=64), out=buffer) is buffer
    np.testing.assert_array_equal(buffer, expected)


def test_tile_progress_counts_each_pictures_tiles_from_zero():
    model, reports = TileFake(cast=0), []
    colorizer = ImageColorizer(model, ImageOptions(tile=64), lambda *args: reports.append(args))
    for _ in range(2):
        colorizer.colorize(_large_grey(200, 300))
    tiles = len(model.calls) // 2 - len(colorize_module.VIEW_SCALES)
    once = [(done, tiles) for done in range(tiles + 1)]
    assert tiles > 1 and reports == once + once


def test_16_bit_scan_in_gives_16_bit_out_when_tiled(tmp_path):
    src = tmp_path / "scan.tif"
    tifffile.imwrite(src, _large_grey(400, 600, np.uint16)[..., 0])  # grey, like a scan
    model = TileFake()
    assert not colorize_files([src], tmp_path / "out.tif", ImageColorizer(model)).failures
    assert any(shape[1:] == (64, 64) for shape, _ in model.calls)  # tiles were used
    out = read_image(tmp_path / "out.tif").rgb
    assert out.dtype == np.uint16 and out.shape == (400, 600, 3)
    assert np.abs(color.rgb_to_l(out) - color.rgb_to_l(read_image(src).rgb)).max() < 0.1
    assert _ab(out).std() > 3


def test_global_features_of_the_whole_are_shared_by_every_tile():
    model = TileFake(global_features=True)
    rgb = _large_grey()
    colorize_image(rgb, model)
    # First the whole render, in its views (each its own context), then the tiles.
    views = len(colorize_module.VIEW_SCALES)
    shapes = [shape for shape, _ in model.calls]
    features = [g for _, g in model.calls[views:]]
    assert all(s[1:] != (64, 64) for s in shapes[:views]) and all(s[1:] == (64, 64) for s in shapes[views:])
    # One vector, from the whole picture's render (whose mean L the fake returns), for all tiles.
    assert features[0] is not None and all(g is features[0] for g in features)
    L = color.rgb_to_l(rgb)
    np.testing.assert_allclose(features[0][0, 0], L.mean(), atol=0.5)


def test_a_real_fusion_model_takes_the_shared_features():
    pytest.importorskip("keras")
    from vidcolor.models import import_keras

    import_keras()  # the package no longer imports Keras itself; quietly, as load_model does
    from vidcolor.models import nets

    n = nets.build("fusion", width=16)
    model = store.Colorizer({"arch": "fusion", "name": "test", "render_size": 64}, n)
    rng = np.random.default_rng(0)
    L_render = rng.uniform(0, 100, (64, 96)).astype(np.float32)
    L_tile = np.ascontiguousarray(resize_l(L_render, (128, 192))[:64, :64])
    g = model.global_features(L_render[None])
    shared = model.predict_ab(L_tile[None], global_features=g)
    own = model.predict_ab(L_tile[None])
    assert shared.shape == own.shape == (1, 64, 64, 2)
    assert np.abs(shared - own).max() > 0.1  # the whole's context changes the tile (not rounding)
    spy_calls = []

    class Spy(ColorModel):
        name, uses_global_features, render_size, multiple = "spy", True, 64, 32
        global_features = staticmethod(model.global_features)

        def predict_ab(self, L, global_features=None):
            spy_calls.append(global_features)
            return model.predict_ab(L, global_features=global_features)

    L_work = resize_l(L_render, (128, 192))
    ab = tiling.tiled_ab(Spy(), L_render, L_work, tiling.TilePlan((128, 192), 64, 16))
    assert ab.shape == (128, 192, 2) and np.isfinite(ab).all()
    assert len(spy_calls) > 2
    for used in spy_calls:
        np.testing.assert_array_equal(used, g)


def test_cli_tile_zero_disables_tiling(tmp_path, monkeypatch):
    models = []

    def load(directory=None):
        models.append(TileFake())
        return models[-1]

    monkeypatch.setattr(store, "load_model", load)
    src = tmp_path / "big.png"
    from PIL import Image

    Image.fromarray(_large_grey(300, 450)).save(src)
    assert cli.main(["image", str(src), "-o", str(tmp_path / "a.png"), "--tile", "0"]) == 0
    views = len(colorize_module.VIEW_SCALES)
    assert len(models[-1].calls) == views  # one render, in its views
    assert cli.main(["image", str(src), "-o", str(tmp_path / "b.png"), "--tile", "48",
                     "--tile-overlap", "8"]) == 0
    tiles = models[-1].calls[views:]
    assert len(tiles) > 4 and [s[1:] for s, _ in tiles] == [(48, 48)] * len(tiles)
    with pytest.raises(SystemExit):
        cli.main(["image", str(src), "-o", str(tmp_path / "c.png"), "--tile", "-1"])


def test_interrupted_tiling_leaves_no_output(tmp_path):
    src = tmp_path / "big.tif"
    tifffile.imwrite(src, _large_grey(300, 450))
    with pytest.raises(KeyboardInterrupt):
        colorize_files([src], tmp_path / "out.tif", ImageColorizer(TileFake(interrupt_after=3)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tif"]
