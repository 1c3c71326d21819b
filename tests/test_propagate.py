"""The correction spread (vidcolor.propagate) on pictures the tests make."""

import dataclasses

import numpy as np

from vidcolor.propagate import FILM_SPREAD, PHOTO_SPREAD


def _torn_sky(h=96, w=128):
    """Light 'sky' L = 80 cut in two by a dark vertical 'branch' (L = 20), a darker ground
    (L = 50) below; the model paints the sky one colour. Both carry a photo's grain (a flat
    synthetic picture's nearest pixels in feature space would all be its nearest in place)."""
    rng = np.random.default_rng(0)
    L = np.full((h, w), 80.0, np.float32)
    L[:, 60:68] = 20.0
    L[64:, :] = 50.0
    ab = np.zeros((h, w, 2), np.float32)
    ab[:64] = (-5.0, -30.0)   # deep blue sky
    ab[64:] = (10.0, 20.0)    # brown ground
    L += rng.normal(0.0, 1.5, L.shape).astype(np.float32)
    ab += rng.normal(0.0, 1.5, ab.shape).astype(np.float32)
    return L, ab


def _hint(shape, y, x, value, r=1):
    target = np.zeros(shape + (2,), np.float32)
    weight = np.zeros(shape, np.float32)
    target[y - r:y + r + 1, x - r:x + r + 1] = value
    weight[y - r:y + r + 1, x - r:x + r + 1] = 1.0
    return target, weight


def test_no_hint_leaves_the_model_colour():
    L, ab = _torn_sky()
    assert PHOTO_SPREAD(L, ab, np.zeros_like(ab), np.zeros(L.shape, np.float32)) is ab


def test_a_hint_on_one_piece_of_sky_reaches_the_other_but_not_the_ground():
    L, ab = _torn_sky()
    pale = (-2.0, -8.0)
    target, weight = _hint(L.shape, 30, 20, pale)
    out = PHOTO_SPREAD(L, ab, target, weight)
    correction = np.linalg.norm(np.subtract(pale, ab[0, 0]))
    moved = lambda y, x: np.linalg.norm(out[y, x] - ab[y, x]) / correction
    assert moved(30, 20) > 0.9                    # where it is
    assert moved(5, 5) > 0.8                      # its own piece of sky
    assert moved(30, 110) > 0.25                  # the other piece, beyond the branch
    assert moved(90, 20) < 0.1 and moved(90, 110) < 0.1  # not the ground
    # Local ties alone do not cross the branch: the non-local ones do it.
    local = dataclasses.replace(PHOTO_SPREAD, neighbours=0)(L, ab, target, weight)
    assert np.linalg.norm(local[30, 110] - ab[30, 110]) / correction < 0.05


def test_film_spread_is_local():
    L, ab = _torn_sky()
    target, weight = _hint(L.shape, 30, 20, (-2.0, -8.0))
    out = FILM_SPREAD(L, ab, target, weight)
    assert np.abs(out[30, 20] - (-2.0, -8.0)).max() < 1.0
    assert np.linalg.norm(out[30, 110] - ab[30, 110]) < 0.3 * np.linalg.norm(
        np.subtract((-2.0, -8.0), ab[0, 0]))


def test_large_pictures_are_solved_shrunk_with_the_same_result_in_kind():
    L, ab = _torn_sky()
    big_L = np.kron(L, np.ones((4, 4), np.float32))
    big_ab = np.kron(ab, np.ones((4, 4, 1), np.float32))
    target, weight = _hint(big_L.shape, 120, 80, (-2.0, -8.0), r=4)
    out = PHOTO_SPREAD(big_L, big_ab, target, weight)
    assert out.shape == big_ab.shape and out.dtype == np.float32
    # The correction is smooth; the model's grain stays on top of it.
    assert np.abs((out - big_ab)[116:125, 76:85].mean((0, 1))
                  - ((-2.0, -8.0) - big_ab[116:125, 76:85].mean((0, 1)))).max() < 3.0
    assert np.abs(out[360, 80] - big_ab[360, 80]).max() < 2.0


def test_a_films_spread_builds_its_system_in_the_kept_pattern_to_the_bit():
    """The film's path fills its system's upper triangle straight from the ties; through
    scipy's assembly (any other solver callable) the same frames give the same bits, also
    with ties that underflow to zero at hard edges and the grid size changing in between."""
    from vidcolor.propagate import SamePatternSolver

    kept = FILM_SPREAD.for_film()
    plain = SamePatternSolver()
    through_scipy = dataclasses.replace(FILM_SPREAD, solver=lambda A, rhs: plain(A, rhs))
    rng = np.random.default_rng(3)
    for shape in [(48, 64), (48, 64), (30, 40), (48, 64)]:
        L = (np.cumsum(rng.uniform(0, 40, shape), 1) % 100).astype(np.float32)
        ab = rng.uniform(-50, 50, shape + (2,)).astype(np.float32)
        target = ab + rng.normal(0, 9, ab.shape).astype(np.float32)
        weight = np.where(rng.uniform(0, 1, shape) > 0.5, rng.uniform(0, 1, shape), 0)
        ours = kept(L, ab, target, weight.astype(np.float32))
        np.testing.assert_array_equal(ours, through_scipy(L, ab, target,
                                                          weight.astype(np.float32)))
        assert np.abs(ours - ab).max() > 1.0  # corrected
