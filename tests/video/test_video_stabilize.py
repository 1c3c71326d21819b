"""The numba stabilization kernel against its numpy specification, and the Stabilizer."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidcolor.video import stabilize as st


def texture(h=48, w=64, seed=0, shift=(0, 0)):
    """Smooth random lightness in [0, 100] (h, w), optionally shifted (dy, dx) with wrap."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 100, (h, w)).astype(np.float32), (0, 0), 2.5)
    big = (big - big.min()) / (big.max() - big.min()) * 80 + 10
    return np.roll(big, shift, axis=(0, 1)).astype(np.float32)


def random_case(seed, h=40, w=56):
    rng = np.random.default_rng(seed)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return dict(
        ab_prev=f32(rng.normal(0, 30, (h, w, 2))), L_prev=f32(rng.uniform(0, 100, (h, w))),
        L_cur=f32(rng.uniform(0, 100, (h, w))), ab_model=f32(rng.normal(0, 30, (h, w, 2))),
        # Flows up to 6 px: some samples leave the frame.
        flow_bwd=f32(rng.normal(0, 3, (h, w, 2))), flow_fwd=f32(rng.normal(0, 3, (h, w, 2))),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("strength,l_offset", [(0.8, 0.0), (1.0, 3.5), (0.3, -2.0)])
def test_kernel_matches_numpy_reference(seed, strength, l_offset):
    case = random_case(seed)
    out, conf = st.blend_step(**case, strength=strength, sigma_flow=2.0, sigma_l=30.0,
                              l_offset=l_offset)
    ref, ref_conf = st.blend_step_reference(**case, strength=strength, sigma_flow=2.0,
                                            sigma_l=30.0, l_offset=l_offset)
    assert out.shape == ref.shape and out.dtype == np.float32
    np.testing.assert_allclose(conf, ref_conf, atol=2e-4)
    np.testing.assert_allclose(out, ref, atol=5e-3)
    # The case exercises both regimes: samples outside the frame and trusted ones.
    assert (ref_conf == 0).mean() > 0.02 and (ref_conf > 0.3).mean() > 0.02


def test_identity_flow_blends_by_strength():
    L = texture()
    zero = np.zeros(L.shape + (2,), np.float32)
    prev = np.full(L.shape + (2,), 10.0, np.float32)
    model = np.full(L.shape + (2,), -20.0, np.float32)
    out, conf = st.blend_step(prev, L, L, model, zero, zero, 0.75)
    np.testing.assert_allclose(conf, 1.0, atol=1e-6)
    np.testing.assert_allclose(out, 0.75 * 10 + 0.25 * -20, atol=1e-4)
    out0, _ = st.blend_step(prev, L, L, model, zero, zero, 0.0)
    np.testing.assert_array_equal(out0, model)


def test_confidence_drops_for_inconsistent_flow_and_changed_content():
    L = texture()
    ab = np.zeros(L.shape + (2,), np.float32)
    zero = np.zeros_like(ab)
    bwd = np.full_like(ab, 2.0)
    # Forward flow does not bring us back: an occlusion.
    _, conf = st.blend_step(ab, L, L, ab, bwd, np.full_like(ab, 2.0), 1.0)
    assert conf.max() < 0.01
    # Consistent flow but the warped lightness disagrees: new content.
    _, conf = st.blend_step(ab, L, 100 - L, ab, zero, zero, 1.0)
    assert np.median(conf) < 0.2
    # A global brightness change (film flicker) is compensated by l_offset.
    _, conf = st.blend_step(ab, L, L + 8, ab, zero, zero, 1.0, l_offset=8.0)
    np.testing.assert_allclose(conf, 1.0, atol=1e-5)


def test_colour_follows_motion():
    # Colour attached to a moving texture: the warped history lands on the right pixels.
    L0, L1 = texture(shift=(0, 0)), texture(shift=(0, 3))
    ab0 = np.stack([L0 - 50, 50 - L0], -1).astype(np.float32)  # colour tied to content
    ab1_true = np.stack([L1 - 50, 50 - L1], -1).astype(np.float32)
    s = st.Stabilizer(strength=1.0)
    s(L0, ab0)
    wrong_model = np.zeros_like(ab1_true)  # the model knows nothing about frame 1
    out, info = s(L1, wrong_model)
    assert not info.cut and info.confidence > 0.5
    inner = (slice(4, -4), slice(8, -8))
    err = np.abs(out[inner] - ab1_true[inner]).mean()
    assert err < 0.25 * np.abs(ab1_true[inner]).mean()


def test_stabilizer_reduces_temporal_noise_on_static_scene():
    L = texture()
    rng = np.random.default_rng(0)
    truth = np.stack([L - 50, np.full_like(L, 20)], -1).astype(np.float32)
    s = st.Stabilizer(strength=0.8)
    outs, models = [], []
    for t in range(20):
        noisy = truth + rng.normal(0, 10, 2).astype(np.float32)  # whole-frame flicker
        models.append(noisy)
        outs.append(s(L, noisy)[0])
    flicker = lambda seq: np.abs(np.diff(np.stack(seq[5:]), axis=0)).mean()  # noqa: E731
    assert flicker(outs) < 0.5 * flicker(models)


def test_scene_cut_resets_the_recursion():
    a, b = texture(seed=1), np.clip(texture(seed=2) * 0.4, 0, 100)  # a dark new shot
    ab_a = np.full(a.shape + (2,), 40.0, np.float32)
    ab_b = np.full(a.shape + (2,), -40.0, np.float32)
    assert st.histogram_distance(st.l_histogram(a), st.l_histogram(b)) > st.DEFAULT_CUT_THRESHOLD
    s = st.Stabilizer(strength=1.0)
    out, info = s(a, ab_a)
    assert info.cut  # the first frame starts a shot
    out, info = s(a, ab_a)
    assert not info.cut
    out, info = s(b, ab_b)
    assert info.cut
    np.testing.assert_array_equal(out, ab_b)  # nothing of the old shot leaks in
    # Without the reset (threshold 1: never a cut) the same sequence does carry colour over
    # where the warped lightness happens to agree.
    s2 = st.Stabilizer(strength=1.0, cut_threshold=1.0)
    s2(a, ab_a), s2(a, ab_a)
    out2, info2 = s2(b, ab_b)
    assert not info2.cut and np.abs(out2 - ab_b).max() > 1.0


def test_state_round_trip_gives_identical_results():
    frames = [texture(shift=(0, k)) for k in range(5)]
    abs_ = [np.stack([f - 50, 50 - f], -1).astype(np.float32) + k for k, f in enumerate(frames)]
    s = st.Stabilizer()
    full = [s(L, ab)[0] for L, ab in zip(frames, abs_)]
    s1 = st.Stabilizer()
    for L, ab in zip(frames[:3], abs_[:3]):
        s1(L, ab)
    s2 = st.Stabilizer()
    s2.set_state(s1.get_state())
    rest = [s2(L, ab)[0] for L, ab in zip(frames[3:], abs_[3:])]
    for x, y in zip(full[3:], rest):
        np.testing.assert_array_equal(x, y)


def test_strength_validated():
    with pytest.raises(ValueError):
        st.Stabilizer(strength=1.5)


@pytest.mark.parametrize("seed", [0, 3])
def test_warp_step_is_the_blend_kernels_warp_and_confidence(seed):
    """Keyframes carry colour with the stabilizer's warp and trust (one definition)."""
    case = random_case(seed)
    out, conf = st.blend_step(**case, strength=1.0, l_offset=1.5)
    extra = np.random.default_rng(seed).uniform(0, 1, case["L_cur"].shape + (1,))
    values = np.concatenate([case["ab_prev"], extra.astype(np.float32)], -1)
    warped, wconf = st.warp_step(values, case["L_prev"], case["L_cur"], case["flow_bwd"],
                                 case["flow_fwd"], l_offset=1.5)
    np.testing.assert_allclose(wconf, conf, atol=1e-5)
    # Where trusted, blend_step with full strength is the warped value itself.
    sure = conf > 0.999
    np.testing.assert_allclose(warped[..., :2][sure], out[sure], atol=1e-2)
    ys, xs = np.mgrid[0:40, 0:56]
    px, py = xs + case["flow_bwd"][..., 0], ys + case["flow_bwd"][..., 1]
    outside = (px < 0) | (py < 0) | (px > 55) | (py > 39)
    assert warped.shape == (40, 56, 3) and outside.mean() > 0.02
    assert (warped[outside] == 0).all() and (wconf[outside] == 0).all()


def test_cut_definition():
    flat, other = st.l_histogram(np.full((8, 8), 20, np.float32)), st.l_histogram(
        np.full((8, 8), 80, np.float32))
    assert st.is_cut(None, flat) and st.is_cut(flat, other) and not st.is_cut(flat, flat)
