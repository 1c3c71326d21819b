"""Colour by correspondence (vidcolor.correspond): the pure functions, with the fake model's
features."""

import numpy as np
import pytest

from support import FakeColorizer
from vidcolor import correspond as C

# Four blocks of 32x32 render pixels, each of its own lightness and texture, each its colour.
BLOCK = 32
LEVELS = (20.0, 40.0, 60.0, 80.0)
COLOURS = ((50.0, 10.0), (-40.0, 30.0), (10.0, -50.0), (-20.0, -20.0))


def _block(i: int) -> np.ndarray:
    y, x = np.mgrid[0:BLOCK, 0:BLOCK].astype(np.float32)
    stripes = 6.0 * np.sin(x / (2.0 + i)) * (i % 2) + 6.0 * np.sin(y / (2.0 + i)) * (1 - i % 2)
    return LEVELS[i] + stripes


def _picture(order) -> tuple[np.ndarray, np.ndarray]:
    """A 2x2 arrangement of the blocks ``order`` (row-major): L (64, 64), ab (64, 64, 2)."""
    L = np.zeros((2 * BLOCK, 2 * BLOCK), np.float32)
    ab = np.zeros((2 * BLOCK, 2 * BLOCK, 2), np.float32)
    for place, i in enumerate(order):
        r, c = divmod(place, 2)
        win = np.s_[r * BLOCK:(r + 1) * BLOCK, c * BLOCK:(c + 1) * BLOCK]
        L[win] = _block(i)
        ab[win] = COLOURS[i]
    return L, ab


def _features(L: np.ndarray) -> np.ndarray:
    return FakeColorizer(check_shapes=False).match_features(L[None])[0]


def _inner(x: np.ndarray) -> np.ndarray:
    """Cells away from the blocks' borders (a cell next to one sees its neighbour)."""
    keep = np.zeros((8, 8), bool)
    for r0 in (0, 4):
        for c0 in (0, 4):
            keep[r0 + 1:r0 + 3, c0 + 1:c0 + 3] = True
    return x[keep]


def test_grid_shape_rounds_up():
    assert C.grid_shape((192, 352)) == (24, 44)
    assert C.grid_shape((100, 30)) == (13, 4)


def test_rearranged_picture_gets_each_blocks_colour():
    L_key, ab_key = _picture((0, 1, 2, 3))
    L, ab_true = _picture((3, 2, 1, 0))
    ex = C.exemplar(_features(L_key), L_key, ab_key, source="key")
    ab, confidence = C.correspond(_features(L), L, [ex])
    assert ab.shape == (8, 8, 2) and confidence.shape == (8, 8)
    error = np.abs(_inner(ab) - _inner(C.on_grid(ab_true, (8, 8))))
    assert error.max() < 3.0
    assert _inner(confidence).min() > 0.5
    # At the render size, the colour is the true one away from block borders.
    ab_up, conf_up = C.to_render(ab, confidence, L)
    assert ab_up.shape == (64, 64, 2) and conf_up.shape == (64, 64)
    assert np.abs(ab_up[10:22, 10:22] - ab_true[10:22, 10:22]).max() < 3.0
    assert 0.0 <= conf_up.min() and conf_up.max() <= 1.0


def test_unmatched_content_has_low_confidence():
    L_key, ab_key = _picture((0, 1, 2, 3))
    ex = C.exemplar(_features(L_key), L_key, ab_key)
    # Content the exemplar lacks: a fine checkerboard of far more contrast than any block.
    y, x = np.mgrid[0:64, 0:64]
    L_new = np.where((x // 2 + y // 2) % 2 == 0, 10.0, 90.0).astype(np.float32)
    _, confidence = C.correspond(_features(L_new), L_new, [ex])
    L_same, _ = _picture((0, 1, 2, 3))
    _, confidence_same = C.correspond(_features(L_same), L_same, [ex])
    assert confidence.mean() < 0.5 * confidence_same.mean()
    assert _inner(confidence_same).min() > 0.5


def test_matches_that_disagree_lower_the_confidence():
    L_key, ab_key = _picture((0, 1, 2, 3))
    feats = _features(L_key)
    ex = C.exemplar(feats, L_key, ab_key)
    # The same picture, coloured otherwise: the same cells match, with other colours.
    other = C.exemplar(feats, L_key, -ab_key)
    _, sure = C.correspond(feats, L_key, [ex])
    _, torn = C.correspond(feats, L_key, [ex, other])
    assert _inner(torn).max() < 0.2 < _inner(sure).min()


def test_relit_colour_never_gains_chroma():
    L_key, _ = _picture((0, 1, 2, 3))
    ab_key = np.broadcast_to(np.float32(COLOURS[0]), L_key.shape + (2,))
    ex = C.exemplar(_features(L_key), L_key, ab_key)
    same, _ = C.correspond(_features(L_key), L_key, [ex])
    darker, _ = C.correspond(_features(L_key), L_key * 0.5, [ex])
    assert (np.abs(darker) <= np.abs(same) + 1e-3).all()
    assert np.abs(darker).mean() < 0.8 * np.abs(same).mean()


def test_no_exemplar_no_colour():
    L, _ = _picture((0, 1, 2, 3))
    ab, confidence = C.correspond(_features(L), L, [])
    assert not ab.any() and not confidence.any()


def test_backbone_features_are_unit_length_on_the_grid():
    rng = np.random.default_rng(0)
    f8 = rng.normal(size=(2, 4, 6, 5)).astype(np.float32)
    f16 = rng.normal(size=(2, 2, 3, 7)).astype(np.float32)
    out = C.backbone_features(f8, f16, (3, 5))
    assert out.shape == (2, 3, 5, 12)
    assert np.allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("shape", [(64, 64), (60, 50)])
def test_to_render_of_any_render_shape(shape):
    grid = C.grid_shape(shape)
    ab = np.full(grid + (2,), 20.0, np.float32)
    up, conf = C.to_render(ab, np.ones(grid, np.float32), np.full(shape, 50.0, np.float32))
    assert up.shape == shape + (2,) and conf.shape == shape
    assert np.allclose(up, 20.0, atol=1e-3) and np.allclose(conf, 1.0)


def test_the_similarity_is_the_features_matrix_product_in_the_calling_thread():
    from vidcolor.correspond import _similarity

    rng = np.random.default_rng(5)
    query = rng.normal(size=(37, 24)).astype(np.float32)
    keys = rng.normal(size=(90, 24)).astype(np.float32)
    ours = _similarity(query, keys)
    assert ours.shape == (37, 90) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, query @ keys.T, rtol=0, atol=1e-5)
    assert _similarity(query[:0], keys).shape == (0, 90)
