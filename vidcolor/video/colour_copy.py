"""A colour copy of the same film (``--colour-from``): its chroma on the black-and-white master.

Archives often hold a worn colour copy of a film (a low-resolution print or tape) beside a
sharp black-and-white master. Its colour is the truth at low resolution. For each master
frame, in display order (:class:`ColourCopyStep`, a temporal step of the film):

1. the copy frame is found: master frame at time ``t`` is looked for at copy frame
   ``round(t * copy_rate) + offset + drift``, where the *drift* (a few frames the copy gains
   or loses) is followed by matching lightness over :data:`DRIFT_SEARCH` frames either side
   (:func:`match_error`), with hysteresis (:func:`choose_drift`) so it does not jump, taken
   once :data:`DRIFT_CONFIRM` frames in a row agree on it;
2. the picture inside each film's black bars (a letterbox or pillarbox one has and the other
   lacks, :func:`vidcolor.video.borders.picture_box`, frame by frame on both) is aligned
   (:func:`align_copy`): its lightness, matched in tone to the master's, gives
   a DIS flow (the film's preset, :data:`vidcolor.video.analysis.FLOW_PRESET`) onto the
   master's lightness at the copy's size, and the one motion most of that flow follows
   (:func:`global_motion`: the copy's framing, a pan); the copy's colour is moved by that
   motion where the local flow fits the master no better, else warped along the flow, and
   each pixel's *trust* is the agreement of the moved lightness with the master's (and, where
   the flow moved it, the flow's forward-backward consistency), so damage and content the
   copy lacks count as unknown;
3. the copy frames either side of it (:data:`FUSE_RADIUS`), aligned alike, are averaged with
   it by how well each fits, a neighbour only where its lightness fits the master's about as
   well as the frame's own, relative to the copy's noise (:func:`fused`, :func:`agreement`:
   a clean copy keeps its own frame where things move too fast, a noisy one averages); what
   is carried is the copy's chroma relative to its lightness (:func:`chromaticity`), which
   a change of light leaves alone, so the master's own shading, finer than the copy's, is
   put back under it (:func:`relit`). The copy's wear (compression blocks, softness) is
   taken out by the restorer network (:class:`vidcolor.copy_restore.CopyRestorer`, from the
   chromaticity, the copy's aligned lightness and the master's, then brought towards a
   smooth function of the master's lightness fitted over the flat part of a wide window,
   where the master is flat, as far as the copy shows compression blocks and its chroma
   keeps near the fit, :func:`without_wear`, :func:`blockiness`: a grey sky's chroma,
   quantized in patches wider than a block, the network leaves partly standing; where it is
   not installed, the guided filter :func:`guided_ab`, as strongly as the copy is noisy,
   :func:`noise_level`), and it is brought up to the render size guided by the master's
   edges (:func:`vidcolor.upsample.upsample_ab`); the film's finishing step brings it to
   full resolution guided again by the master's full-resolution lightness, the output's own;
4. untrusted pixels (damage: the copy's lightness does not agree with the master's), and
   frames the copy lacks, take what the frame before had there where the flow trusts that
   step; else the colour of the pixels that look alike in the last frames the copy coloured
   well (:data:`EXEMPLARS` of them, by feature correspondence, :mod:`vidcolor.correspond`,
   with the model's match features of the same call), by the match's confidence; else the
   model's own colour corrected towards the trusted pixels by the spread of
   :data:`vidcolor.propagate.FILM_SPREAD`. Colour never crosses a cut.

The stabilizer runs before this step, on the model's colour: the copy's colour is the truth
frame by frame (averaged over its neighbours already), which blending in the frame before
would only blur. The copy's frames are read by :class:`CopyFrames`, which reopens the copy
where a resumed job starts.
"""

from __future__ import annotations

import functools
import logging
from fractions import Fraction
from typing import Callable

import cv2
import numpy as np

from vidcolor import color
from vidcolor.correspond import Exemplar, correspond_where, exemplar, on_grid
from vidcolor.options import ColourCopy
from vidcolor.references import guided
from vidcolor.upsample import guided_fit, upsample_ab
from vidcolor.video.analysis import FLOW_PRESET, FrameAnalysis, flow_pair, to_u8
from vidcolor.video.borders import picture_box
from vidcolor.video.copy_search import (JUMP_ERROR, JUMP_RATIO, SEARCH_AFTER, CopySearch,
                                        frame_number, frames_from, thumbnail, thumbnail_shape)
from vidcolor.video.probe import VideoInfo, probe
from vidcolor.video.stabilize import warp_step

__all__ = ["ColourCopyStep", "CopyFrames", "agreement", "align_copy", "blockiness",
           "choose_drift", "chromaticity", "copy_index", "fitted_where_flat", "flat_fit",
           "flatness", "fused", "global_motion", "guided_ab", "match_error", "noise_level",
           "open_copy", "relit", "smoothed_where_flat", "wear", "without_wear"]

#: Copy frames searched either side of the expected one for the drift.
DRIFT_SEARCH = 3
#: A candidate replaces the current drift only when its match error is below this share of
#: the current one's (hysteresis: no jumping between near-equal frames of a still shot).
SWITCH_RATIO = 0.8
#: Frames in a row that must propose the same new drift before it is taken (on the first
#: frame, at once): a copy frame lost or gained stays so, while in a run of damaged copy
#: frames the last good one looks best at a different drift each frame (following it would
#: freeze the copy there).
DRIFT_CONFIRM = 2
#: Match error (:func:`match_error`) above which a copy frame is taken for another picture
#: (damage, a missing scene) and not used at all.
MAX_MATCH_ERROR = 0.5
#: Lightness difference (L units, after tone matching) at which an aligned copy pixel's
#: agreement with the master falls to exp(-1/2).
AGREE_SIGMA = 16.0
#: The same scale for a copy frame's weight among its neighbours (:func:`fused`): the
#: frames that fit best give the colour.
FUSE_SIGMA = 8.0
#: Forward-backward flow error (copy pixels) at which the flow's consistency falls to exp(-1/2).
FLOW_SIGMA = 1.0
#: Trust below which a copy pixel counts as unknown, and from which it counts as sure (its
#: colour is the copy's alone: a little doubt everywhere must not mix the model's in).
MIN_TRUST = 0.3
SURE_TRUST = 0.8
#: The guided filter cleaning the copy's chromaticity at its own size where the restorer
#: network is not installed: window radius (pixels), chosen on the development clips
#: (benchmarks/RESULTS.md); its regularization is the copy's noise level
#: (:func:`noise_level`), frame by frame. GUIDE_EPS: the default of
#: :func:`guided_ab` (squared L units, the chromaticity taken x 100).
GUIDE_RADIUS = 1
GUIDE_EPS = 4.0
#: Copy frames either side of the one found whose aligned colour is averaged with it, by fit
#: (a worn copy's compression noise differs from frame to frame where things move).
FUSE_RADIUS = 4
#: Window radius (copy pixels) over which a neighbouring copy frame's fit to the master's
#: lightness is compared with the frame's own (:func:`agreement`: compression noise is
#: blocky, not per pixel), and the least noise level (squared L units) it is compared with.
AGREE_RADIUS = 2
MIN_NOISE = 0.1
#: Window radius (copy pixels) over which the restorer's answer is smoothed where the master's
#: lightness is flat (:func:`smoothed_where_flat`): a grey sky's compression error is in
#: blocks of 16 copy pixels, which the restorer leaves partly standing.
FLAT_RADIUS = 8
#: Window radius (copy pixels) of the smooth function of the master's lightness the chroma is
#: brought towards there (:func:`flat_fit`: a grey sky's chroma is quantized into patches
#: wider than a block; a wider window flattens a cloudy sky's own colour), and the chroma's
#: variance about it (squared chromaticity units) beyond which it counts as another object,
#: not wear; both chosen offline on the development windows (benchmarks/RESULTS.md).
FIT_RADIUS = 16
FIT_SPREAD = 32.0
#: The restorer's :func:`wear` (squared chromaticity units) at which that fit acts at half
#: strength: a copy the network finds nearly clean keeps its finer chroma.
WEAR_LEVEL = 0.003
#: The sides (copy pixels) of the compression blocks looked for in a copy (JPEG's and MPEG's
#: 8 x 8 transform, and the 16 x 16 its chroma covers in 4:2:0): :func:`blockiness`.
BLOCK_SIDES = (8, 16)
#: Lightness + this is what chroma scales with under a change of light (as
#: :func:`vidcolor.video.keyframes.overlay._relit`): the copy's a/b / (L + 16) is carried.
LIGHT_ZERO = 16.0
#: Share of the frame the trusted copy must cover for the spread correction of the rest to
#: act at full strength (as the keyframes' guide, :data:`FULL_COVERAGE`).
FULL_COVERAGE = 0.25
#: Share of untrusted pixels below which the spread correction is skipped (it costs a sparse
#: solve; the fill and the stabilizer cover a few pixels).
SPREAD_FROM = 0.01
#: The last frames the copy coloured well (mean trust at least :data:`GOOD_COVERAGE`) that
#: the pixels it does not colour are matched against: their grid cells of mean trust at least
#: :data:`GOOD_CELL` (the copy's colour, not the model's), features, lightness and colour.
EXEMPLARS = 2
GOOD_COVERAGE = 0.5
GOOD_CELL = 0.5
#: A grid cell is matched when this share of its pixels is left to the fallback (neither the
#: copy nor the flow from the frame before trusted there).
MATCH_FROM = 0.05


def open_copy(copy: ColourCopy) -> VideoInfo:
    """The copy's video stream, checked to open and decode.

    Raises
    ------
    VidcolorError
        One line: ``--colour-from`` and why the copy cannot be used.
    """
    from vidcolor.errors import VidcolorError

    try:
        info = probe(copy.path)
    except VidcolorError as e:
        raise VidcolorError(f"--colour-from: {e}") from None
    if info.format_name == "image2" or info.format_name.endswith("_pipe"):
        raise VidcolorError(f"--colour-from {copy.path}: a still picture, not a film (a colour "
                            "photo of the scene goes in --reference)")
    return info


def copy_index(seconds: float, rate: Fraction, offset: int) -> int:
    """The copy frame first looked for at ``seconds`` from the master's start, ``offset``
    frames late (> 0) or early (< 0), of a copy at ``rate`` frames a second."""
    return int(round(seconds * float(rate))) + int(offset)


def work_shape(copy_shape: tuple[int, int], render: tuple[int, int]) -> tuple[int, int]:
    """The size the copy is worked at: its own where it is no larger than the render in both
    sides (its pixels, and its compression blocks, as the restorer learned them: resampling
    to the render's slightly different aspect smears them), else the render's aspect, no
    larger than the copy (its detail) nor the render (where its chroma goes)."""
    if copy_shape[0] <= render[0] and copy_shape[1] <= render[1]:
        return max(8, int(copy_shape[0])), max(8, int(copy_shape[1]))
    s = min(1.0, copy_shape[0] / render[0], copy_shape[1] / render[1])
    return max(8, int(round(render[0] * s))), max(8, int(round(render[1] * s)))


def match_error(L_master: np.ndarray, L_copy: np.ndarray) -> float:
    """How unlike two lightness images (h, w) in [0, 100] are, whatever their tone: the mean
    absolute difference of their :func:`~vidcolor.video.copy_search.thumbnail`, standardized
    versions :data:`~vidcolor.video.copy_search.MATCH_WIDTH` pixels wide. 0 for the same
    picture, about 1 for unrelated ones."""
    shape = thumbnail_shape(L_master.shape[0] / L_master.shape[1])
    return float(np.abs(thumbnail(L_master, shape) - thumbnail(L_copy, shape)).mean())


def choose_drift(errors: dict[int, float], current: int) -> int:
    """The drift to follow: the candidate of least error (a drift, relative to the current
    one: 0 is the current), taken only if clearly better than the current (:data:`SWITCH_RATIO`);
    ties go to the smallest change. Missing candidates are left out of ``errors``; while the
    current one is missing (frames the copy lacks) the drift stays."""
    if 0 not in errors:
        return current
    best = min(errors, key=lambda d: (errors[d], abs(d)))
    if best != 0 and errors[best] < SWITCH_RATIO * errors[0] - 1e-3:
        return current + best
    return current


def tone_matched(L_copy: np.ndarray, L_master: np.ndarray) -> np.ndarray:
    """The copy's lightness mapped linearly to the master's mean and spread (a print fades,
    a tape's levels differ)."""
    scale = (L_master.std() + 1e-3) / (L_copy.std() + 1e-3)
    scale = float(np.clip(scale, 0.5, 2.0))
    return ((L_copy - L_copy.mean()) * scale + L_master.mean()).astype(np.float32)


def chromaticity(lab: np.ndarray) -> np.ndarray:
    """The copy's chroma relative to its lightness, a/b / (L + :data:`LIGHT_ZERO`), x 100:
    what stays when the light changes, so the master's own lightness (its shading, finer
    than the copy) can be put back under it. (h, w, 3) Lab -> (h, w, 2) float32."""
    return (lab[..., 1:] * (100.0 / (lab[..., :1] + LIGHT_ZERO))).astype(np.float32)


def relit(chroma: np.ndarray, L: np.ndarray) -> np.ndarray:
    """:func:`chromaticity`'s inverse on lightness ``L`` (h, w): a/b (h, w, 2)."""
    return (chroma * ((L[..., None] + LIGHT_ZERO) / 100.0)).astype(np.float32)


def align_copy(lab_copy: np.ndarray, L_master: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A copy frame warped onto the master's, and per pixel how far to trust it.

    Parameters
    ----------
    lab_copy : ndarray of float32, shape (h, w, 3)
        The copy's Lab at the work size, L in [0, 100], ab in about [-110, 110].
    L_master : ndarray of float32, shape (h, w), in [0, 100]
        The master's lightness at the same size.

    Returns
    -------
    chroma : ndarray of float32, shape (h, w, 2)
        The copy's :func:`chromaticity` where each master pixel's content is in the copy.
    trust : ndarray of float32, shape (h, w), in [0, 1]
        Agreement of the warped (tone-matched) lightness with the master's, times the flow's
        forward-backward consistency where the local flow moved the pixel (not where the
        frame's :func:`global_motion` did: its lightness fit, within the copy's noise level,
        was as good); 0 below :data:`MIN_TRUST`.
    weight : ndarray of float32, shape (h, w), in [0, 1]
        Its weight among neighbouring copy frames: the trust, narrowed by how well the
        lightness fits (:data:`FUSE_SIGMA`).
    misfit : ndarray of float32, shape (h, w)
        The squared difference of the warped (tone-matched) lightness from the master's, in
        squared L units: the copy's compression noise where the flow is right.
    L_copy : ndarray of float32, shape (h, w)
        The copy's warped (tone-matched) lightness in about [0, 100].
    """
    L_copy = tone_matched(lab_copy[..., 0], L_master)
    # A fresh DIS object each time: a resumed job must find exactly what one run found.
    dis = cv2.DISOpticalFlow_create(FLOW_PRESET)
    to_copy, to_master = flow_pair(dis, to_u8(L_copy), to_u8(L_master))
    h, w = L_master.shape
    xs = np.arange(w, dtype=np.float32)[None, :] + to_copy[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + to_copy[..., 1]
    values = np.concatenate([L_copy[..., None], chromaticity(lab_copy), to_master], -1)
    warped = cv2.remap(values, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    fb = ((to_copy + warped[..., 3:5]) ** 2).sum(-1)
    dL2 = (warped[..., 0] - L_master) ** 2
    trust = np.exp(-dL2 / (2 * AGREE_SIGMA ** 2) - fb / (2 * FLOW_SIGMA ** 2))
    motion = global_motion(to_copy, fb)
    if motion is not None:
        # Where the local flow fits the master no better than the whole frame's motion does
        # (within the copy's noise), that motion places the copy: it holds where the flow
        # has nothing to go by (a grey sky, whose flows disagree both ways) and carries no
        # flow noise; consistent by construction, it is trusted as far as the lightness fits.
        moved = cv2.warpAffine(values[..., :3], motion, (w, h),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
        dL2_moved = (moved[..., 0] - L_master) ** 2
        fit_moved = _local(dL2_moved)
        level = _median_level(fit_moved)
        by_motion = fit_moved - _local(dL2) <= level
        trust = np.where(by_motion, np.exp(-dL2_moved / (2 * AGREE_SIGMA ** 2)), trust)
        dL2 = np.where(by_motion, dL2_moved, dL2)
        warped[..., :3] = np.where(by_motion[..., None], moved, warped[..., :3])
    # One flow vector bad in a patch of good ones is noise; a damaged patch stays untrusted.
    trust = cv2.blur(trust.astype(np.float32), (3, 3))
    trust = np.where(trust >= MIN_TRUST, trust, 0.0).astype(np.float32)
    weight = trust * np.exp(-dL2 / (2 * FUSE_SIGMA ** 2)).astype(np.float32)
    return (np.ascontiguousarray(warped[..., 1:3]), trust, weight, dL2.astype(np.float32),
            np.ascontiguousarray(warped[..., 0]))


def global_motion(to_copy: np.ndarray, fb: np.ndarray, stride: int = 8) -> np.ndarray | None:
    """The one motion most of a flow follows: a similarity (shift, turn, scale), as a copy's
    framing differs from the master's or a camera pans.

    Parameters
    ----------
    to_copy : ndarray of float32, shape (h, w, 2)
        The flow from each master pixel to the copy (x, y), in pixels.
    fb : ndarray of float32, shape (h, w)
        Its forward-backward error, squared pixels: only pixels below ``FLOW_SIGMA ** 2``
        take part.
    stride : int
        The grid (pixels) the fit samples.

    Returns
    -------
    ndarray of float64, shape (2, 3), or None
        The master -> copy pixel transform fitted by RANSAC (OpenCV's, with its fixed seed:
        the same flow gives the same motion), 1-pixel threshold; None where fewer than 8
        grid pixels take part or no fit is found.
    """
    h, w = fb.shape
    ys, xs = np.mgrid[stride // 2:h:stride, stride // 2:w:stride]
    keep = fb[ys, xs] < FLOW_SIGMA ** 2
    if keep.sum() < 8:
        return None
    src = np.stack([xs[keep], ys[keep]], -1).astype(np.float32)
    dst = src + to_copy[ys[keep], xs[keep]]
    motion, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                            ransacReprojThreshold=1.0)
    return motion


def agreement(misfit: np.ndarray, own: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """How far a neighbouring copy frame, aligned to a master frame, may stand for the copy
    frame found for it, per pixel: by how much worse its lightness fits the master's than
    the frame's own does, relative to the copy's noise.

    The master's lightness is the truth the copy is compared with: the frame's own copy
    misses it by the copy's compression noise, and a neighbour that misses it by clearly more
    was misplaced by the flow there (motion too fast for the copy's size), so its colour
    would be wrong. Local means of the misfits over :data:`AGREE_RADIUS` are compared; the
    noise level is the median of the frame's own over the ``valid`` pixels (at least
    :data:`MIN_NOISE`). With ``excess`` the neighbour's local misfit less the frame's own:
    1 up to the level, then ``exp(-(excess - level) / level)``. A clean copy's level is low,
    so only a neighbour that fits as well counts; a noisy copy's is high, so its frames
    average.

    Parameters
    ----------
    misfit, own : ndarray of float32, shape (h, w)
        The neighbour's and the frame's own :func:`align_copy` misfit, squared L units.
    valid : ndarray of bool, shape (h, w)
        Where the frame's own copy is trusted (the noise level is taken there).

    Returns
    -------
    ndarray of float32, shape (h, w), in [0, 1]
    """
    mine = _local(own)
    return _agreement(_local(misfit), mine, _median_level(mine, valid))


def _agreement(theirs: np.ndarray, mine: np.ndarray, level: float) -> np.ndarray:
    """:func:`agreement` from the local misfits and the noise level."""
    beyond = np.maximum(theirs - mine - level, 0.0)
    return np.exp(-beyond / level).astype(np.float32)


def _local(misfit: np.ndarray) -> np.ndarray:
    """The local mean of a misfit (h, w) over :data:`AGREE_RADIUS`: compression noise is
    blocky, not per pixel."""
    return cv2.blur(np.asarray(misfit, np.float32), (2 * AGREE_RADIUS + 1,) * 2)


def _median_level(local: np.ndarray, valid: np.ndarray | None = None) -> float:
    """The median of ``local`` over ``valid`` (all of it where None), at least MIN_NOISE."""
    if valid is None:
        return max(MIN_NOISE, float(np.median(local)))
    return max(MIN_NOISE, float(np.median(local[valid]))) if valid.any() else MIN_NOISE


def noise_level(misfit: np.ndarray, valid: np.ndarray) -> float:
    """The copy's noise level for one frame: the median, over the ``valid`` pixels (h, w,
    bool: where its own copy frame is trusted), of the local mean of its own
    :func:`align_copy` misfit (h, w, squared L units), at least :data:`MIN_NOISE`. What
    :func:`agreement` compares a neighbour's excess misfit with, and the guided filter's
    regularization (:func:`guided_ab`'s ``eps``, in the same squared L units): a clean copy
    (a low level) is filtered little, its chroma following the master's lightness closely;
    a noisy one is averaged where the master's lightness varies less than its noise.

    Returns
    -------
    float, squared L units
    """
    return _median_level(_local(misfit), valid)


def fused(aligned: list[tuple[np.ndarray, ...]], centre: int = 0
          ) -> tuple[np.ndarray, np.ndarray]:
    """Several copy frames aligned to one master frame (:func:`align_copy`'s answers: their
    chroma, trust, weight and misfit are used), as one: the chromaticity averaged by fusion
    weight, and the largest trust.

    ``aligned[centre]`` is the copy frame found for the master frame; each other frame's
    weight is narrowed by its :func:`agreement`, as far as the centre is trusted (where the
    centre is damaged, its neighbours stand alone). Returns the chromaticity (h, w, 2) and
    the trust (h, w) in [0, 1], each frame's counted as far as it is used.
    """
    trust0, misfit0 = aligned[centre][1], aligned[centre][3]
    mine = _local(misfit0)  # the centre's, once for every neighbour
    level = _median_level(mine, trust0 > 0)
    weights, trusts = [], []
    for k, (_, trust, weight, misfit, *_) in enumerate(aligned):
        share = np.ones_like(trust0)
        if k != centre:
            share = 1.0 - trust0 + trust0 * _agreement(_local(misfit), mine, level)
        weights.append(weight * share)
        trusts.append(trust * share)
    total = np.maximum(sum(weights), 1e-6)[..., None]
    chroma = sum(a[0] * wt[..., None] for a, wt in zip(aligned, weights)) / total
    return chroma.astype(np.float32), np.stack(trusts).max(0).astype(np.float32)


def guided_ab(ab: np.ndarray, L: np.ndarray, radius: int = GUIDE_RADIUS,
              eps: float = GUIDE_EPS) -> np.ndarray:
    """The guided filter (He et al., 2013) of two chroma planes (h, w, 2: a/b, or the copy's
    :func:`chromaticity`) on the lightness ``L`` (h, w) in [0, 100]: in each window the
    chroma as a linear function of L, so block and ringing noise that the master's lightness
    does not have is smoothed away while colour edges on its edges stay.

    Returns
    -------
    ndarray of float32, shape (h, w, 2)
    """
    box, slope, mean_L, mean_ab = guided_fit(ab, L, radius, eps)
    level = mean_ab - slope * mean_L[..., None]
    return (box(slope) * L[..., None] + box(level)).astype(np.float32)


def wear(before: np.ndarray, after: np.ndarray) -> float:
    """How worn the restorer found a copy frame: the mean squared change (both planes
    summed, squared chromaticity units) it made to the chromaticity, ``before`` and ``after``
    (h, w, 2). About 0.003 on a grey sky's copy at JPEG quality 95, 0.3 at quality 30."""
    return float(((after - before) ** 2).sum(-1).mean())


def blockiness(chroma: np.ndarray) -> float:
    """How far a copy frame's chroma (h, w, 2, in its own pixel grid) shows compression
    blocks: 1 - (mean step between neighbouring pixels inside the blocks) / (mean step across
    their edges), the larger over :data:`BLOCK_SIDES`, in [0, 1]. About 0 for a copy without
    blocks (its steps are alike everywhere), near 1 for flat blocks of colour. A copy resized
    to the work size (one larger than the render, :func:`work_shape`) has lost its grid and
    counts as less blocky, so it is smoothed less."""
    dx = np.abs(np.diff(chroma, axis=1)).sum(-1)
    dy = np.abs(np.diff(chroma, axis=0)).sum(-1)
    best = 0.0
    for side in BLOCK_SIDES:
        on_x = np.arange(dx.shape[1]) % side == side - 1
        on_y = np.arange(dy.shape[0]) % side == side - 1
        if not on_x.any() or not on_y.any():
            continue
        on = (dx[:, on_x].sum() + dy[on_y].sum()) / (dx[:, on_x].size + dy[on_y].size)
        off = (dx[:, ~on_x].sum() + dy[~on_y].sum()) / (dx[:, ~on_x].size + dy[~on_y].size)
        if on > 0:
            best = max(best, 1.0 - off / on)
    return float(min(best, 1.0))


def without_wear(chroma: np.ndarray, L_copy: np.ndarray, L_master: np.ndarray,
                 restorer: Callable, eps: float, blocks: float) -> np.ndarray:
    """The copy's chromaticity (h, w, 2, its frames fused) with its wear taken out: the
    restorer network (``restorer(chroma, L_copy, L_master)``, from it and the copy's and the
    master's lightness, (h, w) in [0, 100]), then smoothed within a block where the master
    is flat (:func:`smoothed_where_flat`) and fitted over two blocks there
    (:func:`fitted_where_flat`), as far as the copy is blocky (``blocks``,
    :func:`blockiness`) and, for the fit, as the network found it worn (:func:`wear`,
    :data:`WEAR_LEVEL`); ``eps`` is the copy's :func:`noise_level`.

    Returns
    -------
    ndarray of float32, shape (h, w, 2)
    """
    restored = restorer(chroma, L_copy, L_master)
    worn = wear(chroma, restored)
    smooth = smoothed_where_flat(restored, L_master, eps, blocks)
    return fitted_where_flat(smooth, L_master, eps, blocks * worn / (worn + WEAR_LEVEL))


def flatness(L: np.ndarray, eps: float, radius: int = FLAT_RADIUS) -> np.ndarray:
    """How flat the lightness ``L`` (h, w) in [0, 100] is around each pixel, relative to the
    copy's noise level ``eps`` (squared L units): ``eps / (var_L + eps)``, var_L its variance
    over a window of ``radius``. (h, w) in (0, 1]: 1 where the master shows no more detail
    than the copy's noise."""
    window = (2 * radius + 1, 2 * radius + 1)
    mean_L = cv2.boxFilter(L, -1, window, borderType=cv2.BORDER_REFLECT)
    var_L = np.maximum(cv2.boxFilter(L * L, -1, window, borderType=cv2.BORDER_REFLECT)
                       - mean_L * mean_L, 0.0)
    return eps / (var_L + eps)


def smoothed_where_flat(chroma: np.ndarray, L: np.ndarray, eps: float, strength: float,
                        radius: int = FLAT_RADIUS) -> np.ndarray:
    """The chromaticity (h, w, 2) smoothed by the guided filter on ``L`` (h, w) in [0, 100] as
    far as ``L`` is flat: by ``strength x eps / (var_L + eps)``, var_L its variance over the
    window, eps the copy's noise level (squared L units, :func:`noise_level`), ``strength`` in
    [0, 1] how blocky the copy is (:func:`blockiness`). Where the master shows no more detail
    than the copy's noise, the copy's chroma detail there is its compression blocks; where
    the master has texture, or the copy has no blocks, the chroma keeps its own.

    Returns
    -------
    ndarray of float32, shape (h, w, 2)
    """
    flat = (strength * flatness(L, eps, radius))[..., None]
    smooth = guided_ab(chroma, L, radius, eps)
    return (chroma + flat * (smooth - chroma)).astype(np.float32)


def fitted_where_flat(chroma: np.ndarray, L: np.ndarray, eps: float,
                      strength: float) -> np.ndarray:
    """The chromaticity (h, w, 2) brought towards one smooth function of the master's
    lightness ``L`` (h, w) in [0, 100] fitted over the flat part of a wide window
    (:func:`flat_fit`), as far as ``L`` is flat and the copy is worn: by
    ``strength x flat x spread / (misfit + spread)``, with ``flat`` the :func:`flatness` of
    ``L`` for eps the copy's noise level (squared L units, :func:`noise_level`),
    ``strength`` in [0, 1] how worn the copy is (its :func:`blockiness` and the restorer's
    :func:`wear`), misfit the fit's residual variance (squared chromaticity units) over its
    window of radius :data:`FIT_RADIUS`, and spread :data:`FIT_SPREAD`.

    Where the master shows no more detail than the copy's noise, the copy's chroma detail
    there is compression error: a grey sky's chroma quantized into patches wider than a
    block, which a fit over a window of two blocks and more averages out, guided by the sky's
    lightness (:func:`smoothed_where_flat` works within a block). Where the master has
    texture, where the copy is clean, or where the chroma departs from the fit by more than
    the spread (another object, not wear), the chroma keeps its own.

    Returns
    -------
    ndarray of float32, shape (h, w, 2)
    """
    flat = flatness(L, eps)
    fit, misfit = flat_fit(chroma, L, flat, FIT_RADIUS, eps)
    share = (strength * flat * FIT_SPREAD / (misfit + FIT_SPREAD))[..., None]
    return (chroma + share * (fit - chroma)).astype(np.float32)


def flat_fit(chroma: np.ndarray, L: np.ndarray, weight: np.ndarray, radius: int,
             eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter (:func:`guided_ab`) with each pixel counted by ``weight``: in each
    window of ``radius`` the chroma as a linear function of the lightness, fitted by weighted
    least squares, and the fits of the windows over a pixel averaged by their weight.

    Parameters
    ----------
    chroma : ndarray of float32, shape (h, w, 2)
    L : ndarray of float32, shape (h, w), in [0, 100]
    weight : ndarray, shape (h, w), in [0, 1]
        How far each pixel takes part (its flatness).
    radius : int
        The window's radius (pixels).
    eps : float
        The fit's regularization (squared L units).

    Returns
    -------
    fit : ndarray of float32, shape (h, w, 2)
    misfit : ndarray of float32, shape (h, w)
        The weighted variance of the chroma about the fit over the windows, both planes
        summed (squared chromaticity units).
    """
    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, (2 * radius + 1,) * 2, normalize=False,
                             borderType=cv2.BORDER_REFLECT)

    # float64 about the frame's means: sums over a wide window in float32 lose the variance.
    w = weight.astype(np.float64)
    Lc = L.astype(np.float64) - float(L.mean())
    total = np.maximum(box(w), 1e-9)
    mean_L = box(w * Lc) / total
    var_L = np.maximum(box(w * Lc * Lc) / total - mean_L * mean_L, 0.0)
    fit, misfit = [], np.zeros_like(total)
    for k in range(2):
        mean = float(chroma[..., k].mean())
        c = chroma[..., k].astype(np.float64) - mean
        mean_c = box(w * c) / total
        cov = box(w * Lc * c) / total - mean_L * mean_c
        slope = cov / (var_L + eps)
        level = mean_c - slope * mean_L
        var_c = np.maximum(box(w * c * c) / total - mean_c * mean_c, 0.0)
        misfit += box(w * np.maximum(var_c - slope * cov, 0.0)) / total
        fit.append((box(w * slope) * Lc + box(w * level)) / total + mean)
    return np.stack(fit, -1).astype(np.float32), misfit.astype(np.float32)


@functools.lru_cache(maxsize=1)
def shipped_restorer() -> Callable | None:
    """The shipped :class:`~vidcolor.copy_restore.CopyRestorer`, compiled once a process;
    None where it is not installed."""
    from vidcolor import copy_restore

    return copy_restore.CopyRestorer() if copy_restore.available() else None


def _copy_cells(features: np.ndarray, L: np.ndarray, ab: np.ndarray,
                trust: np.ndarray) -> Exemplar:
    """A frame the copy coloured, as an :class:`~vidcolor.correspond.Exemplar` of its grid
    cells of mean ``trust`` (h, w) at least :data:`GOOD_CELL`; ``features`` (gh, gw, C),
    ``L`` (h, w) in [0, 100], ``ab`` (h, w, 2)."""
    whole = exemplar(features, L, ab)
    keep = on_grid(trust, whole.grid).reshape(-1) >= GOOD_CELL
    return Exemplar(whole.features[keep], whole.L[keep], whole.ab[keep], whole.grid)


class CopyFrames:
    """The copy's frames by number, their picture inside any black bars
    (:func:`~vidcolor.video.borders.picture_box`) as Lab at the work size, read forwards
    through a small buffer; asking for a frame before the buffer reopens the copy there (a
    resumed job, a chunk of a distributed one).

    Parameters
    ----------
    info : VideoInfo
        The copy's (:func:`open_copy`).
    shape : (h, w)
        The work size (:func:`work_shape`).
    keep : int
        Frames kept behind the last one asked for.
    """

    def __init__(self, info: VideoInfo, shape: tuple[int, int],
                 keep: int = 2 * (DRIFT_SEARCH + FUSE_RADIUS)):
        self.info, self.shape, self.keep = info, tuple(shape), keep
        self._frames: dict[int, np.ndarray] = {}
        self._reader = None
        self._floor = 0  # frames from here to the last read are in the buffer or missing
        self._last = -1
        self._ended = False

    def get(self, index: int) -> np.ndarray | None:
        """Copy frame ``index``'s Lab (h, w, 3), float32; None where the copy has none."""
        if index < 0:
            return None
        if self._reader is None or index < self._floor:
            self._open(index)
        while not self._ended and self._last < index:
            self._read_one()
        frame = self._frames.get(index)
        low = index - self.keep
        for k in [k for k in self._frames if k < low]:
            del self._frames[k]
        self._floor = max(self._floor, low)
        return frame

    def _open(self, index: int) -> None:
        self.close()
        self._reader = frames_from(self.info, index)
        self._frames, self._floor, self._last, self._ended = {}, index, index - 1, False

    def _read_one(self) -> None:
        frame = next(self._reader, None)
        if frame is None:
            self._ended = True
            return
        index = frame_number(frame.pts, self.info)
        if index <= self._last:  # a copy faster than its nominal rate: keep the first
            return
        rows, cols = picture_box(color.rgb_to_l(frame.rgb))
        rgb = cv2.resize(np.ascontiguousarray(frame.rgb[rows, cols]), self.shape[::-1],
                         interpolation=cv2.INTER_AREA)
        L, ab = color.rgb_to_lab(rgb)
        self._frames[index] = np.concatenate([L[..., None], ab], -1).astype(np.float32)
        self._last = index

    def close(self) -> None:
        """Close the copy's file (it is reopened when asked for a frame again)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class ColourCopyStep:
    """The copy's colour for each frame of the streaming pass, in display order (a temporal
    step: ``step(pts, analysis, ab)``, ``get_state()``, ``set_state()``).

    Parameters
    ----------
    copy : ColourCopy
        The option: the file and its offset.
    master : VideoInfo
        The film coloured (its time base and start give each frame's time).
    render : (h, w)
        The render shape.
    spread : callable
        ``spread(L, ab_pred, ab_target, weight) -> ab`` for what the copy does not colour
        (:data:`vidcolor.propagate.FILM_SPREAD`, made for a film).
    copy_info : VideoInfo, optional
        The copy's, if probed already.
    restorer : callable or None or "shipped"
        ``restorer(chroma, L_copy, L_master) -> chroma`` that takes the copy's wear out at the
        work size (:class:`vidcolor.copy_restore.CopyRestorer`); "shipped" (the default): the
        shipped network where it is installed; None, or where it is not: the guided filter
        (:func:`guided_ab`).
    """

    def __init__(self, copy: ColourCopy, master: VideoInfo, render: tuple[int, int],
                 spread: Callable, copy_info: VideoInfo | None = None,
                 restorer: Callable | str | None = "shipped"):
        if restorer == "shipped":
            restorer = shipped_restorer()
        self.restorer = restorer
        self.offset = copy.offset
        self.master = master
        self.render = tuple(render)
        self.spread = spread
        info = copy_info or open_copy(copy)
        self.rate = info.rate
        self.frames = CopyFrames(info, work_shape((info.height, info.width), self.render))
        self.search = CopySearch(info, self.render[0] / self.render[1])
        self.drift = 0
        # Frames in a row the copy was not sure of (not their own frame, or not the same
        # picture beyond doubt: after :data:`SEARCH_AFTER` of them it is searched far off,
        # as another cut of the film).
        self._unmatched = 0
        #: Times the copy was found far off and followed there.
        self.jumps = 0
        # A new drift proposed, and for how many frames in a row (:data:`DRIFT_CONFIRM`);
        # None before the first frame.
        self._proposed: tuple[int, int] | None = None
        #: Frames the copy coloured (some pixels trusted) with their own copy frame, with a
        #: neighbouring one (the copy lacks theirs), and frames it did not colour.
        self.found = self.borrowed = self.missed = 0
        # The last frame's a/b: where the copy is not trusted, what the frame before had
        # there follows the motion.
        self._fill: np.ndarray | None = None
        # The last frames the copy coloured well, on the match grid, oldest first.
        self._exemplars: list[Exemplar] = []
        #: Frames where colour by correspondence was used (some cells matched).
        self.matched = 0

    def wants_features(self, pts: int) -> bool:
        """Any frame may need the match features: a damaged or missing copy frame is only
        known when its turn comes, and they come from the model's own call."""
        return True

    def get_state(self) -> dict[str, np.ndarray]:
        """What a resumed job continues from: the drift, the last frame's a/b, and the cells
        of the last well-coloured frames (``exemplar0.features``... oldest first)."""
        state = {"drift": np.int64(self.drift), "unmatched": np.int64(self._unmatched)}
        if self._proposed is not None:
            state["proposed"] = np.asarray(self._proposed, np.int64)
        if self._fill is not None:
            state["fill"] = self._fill.copy()
        for i, e in enumerate(self._exemplars):
            state.update({f"exemplar{i}.features": e.features, f"exemplar{i}.L": e.L,
                          f"exemplar{i}.ab": e.ab,
                          f"exemplar{i}.grid": np.asarray(e.grid, np.int64)})
        return state

    def set_state(self, state: dict[str, np.ndarray] | None) -> None:
        state = state or {}
        self.drift = int(state.get("drift", 0))
        self._unmatched = int(state.get("unmatched", 0))
        proposed = state.get("proposed")
        self._proposed = None if proposed is None else tuple(int(x) for x in proposed)
        self._fill = state.get("fill")
        self._exemplars = []
        for i in range(EXEMPLARS):
            if f"exemplar{i}.features" in state:
                self._exemplars.append(Exemplar(*(state[f"exemplar{i}.{k}"] for k in (
                    "features", "L", "ab")), tuple(int(g) for g in state[f"exemplar{i}.grid"])))

    def close(self) -> None:
        self.frames.close()
        self.search.close()

    def report(self) -> tuple[int, str]:
        """What the copy did for the frames stepped: a logging level and one line, a warning
        where it coloured fewer than half of them (a copy of another film, or offset by more
        than the search reaches, :data:`~vidcolor.video.copy_search.SEARCH_SECONDS`)."""
        total = self.found + self.borrowed + self.missed
        line = (f"colour copy: of {total} frames, {self.found} coloured from their own copy "
                f"frame, {self.borrowed} from a neighbouring one (the copy lacks theirs), "
                f"{self.missed} not (no copy frame near them looks like them)"
                + (f"; followed to {self.jumps} place(s) far off (another cut of the film, "
                   "a leader)" if self.jumps else ""))
        if self.missed * 2 > total:
            return logging.WARNING, (f"warning: {line}: is the copy the same cut of the film, "
                                     "and is --colour-offset right?")
        return logging.INFO, f"note: {line}"

    def step(self, pts: int, frame: FrameAnalysis, ab_model: np.ndarray,
             features: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
        """The frame's render-size a/b (h, w, 2): the copy's where it is trusted, the rest
        carried from the frame before, else matched in the last well-coloured frames, else
        the model's corrected towards the copy; and whether the copy coloured the frame.

        Parameters
        ----------
        pts : int
            In the master's time base.
        frame : FrameAnalysis
            Its render-size lightness ``L`` (h, w) in [0, 100], cut and flow.
        ab_model : ndarray of float32, shape (h, w, 2)
            The model's (stabilized) a/b.
        features : ndarray of float32, shape (h/8, w/8, C), optional
            The frame's match features (:meth:`wants_features`); without them, no matching.
        """
        L = frame.L
        if frame.cut:
            self._exemplars = []
        fill = None if frame.cut or self._fill is None else self._carried_fill(frame)
        # Far off, the copy is looked for on a run's first frame (a leader the run was not
        # told of), at each cut (where a version's edits are), and every SEARCH_AFTER frames
        # it has been unsure (an edit at a cut not seen as one).
        far = self._proposed is None or frame.cut or (
            self._unmatched >= SEARCH_AFTER and self._unmatched % SEARCH_AFTER == 0)
        ab_copy, trust, own = self._copy_colour(pts, L, far)
        if ab_copy is None:
            self.missed += 1
            trust = np.zeros(L.shape, np.float32)
            out = self._rest(L, ab_model, None, trust, fill, features)
        else:
            self.found += own
            self.borrowed += not own
            t = trust[..., None]
            rest = self._rest(L, ab_model, ab_copy, trust, fill, features)
            out = t * ab_copy + (1.0 - t) * rest
        self._fill = np.ascontiguousarray(out, np.float32)
        if features is not None and trust.mean() >= GOOD_COVERAGE:
            cells = _copy_cells(features, L, out, trust)
            if len(cells.L):
                self._exemplars = (self._exemplars + [cells])[-EXEMPLARS:]
        return self._fill, ab_copy is not None

    def _copy_colour(self, pts: int, L: np.ndarray, far: bool = False
                     ) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
        """The copy's a/b at render size and its trust, (h, w, 2) and (h, w), and whether
        they come from the frame's own copy frame; (None, None, False) where no copy frame
        near this one looks like it (:data:`MAX_MATCH_ERROR`) or none of it agrees. Where the
        copy lacks the frame itself, the neighbouring copy frame that looks most like it gives
        the colour, aligned like any other (the drift stays). With ``far``, the copy is first
        looked for far off (:meth:`_searched`) unless the copy frame expected is the same
        picture beyond doubt. Only the master's picture
        inside its black bars is coloured so (:func:`~vidcolor.video.borders.picture_box`;
        :class:`CopyFrames` leaves the copy's out); its bars are grey, trusted."""
        seconds = float(pts * self.master.time_base) - self.master.start_time
        expected = copy_index(seconds, self.rate, self.offset) + self.drift
        frame_shape, (rows, cols) = L.shape, picture_box(L)
        L = np.ascontiguousarray(L[rows, cols])
        L_work = cv2.resize(L, self.frames.shape[::-1], interpolation=cv2.INTER_AREA)
        errors = self._errors(L_work, expected)
        # Never away from the frame expected where it is the same picture beyond doubt.
        if far and errors.get(0, np.inf) > JUMP_ERROR:
            moved = self._searched(L_work, expected, min(errors.values(), default=np.inf))
            if moved != expected:
                expected, errors = moved, self._errors(L_work, moved)
        new_drift = self._confirmed(choose_drift(errors, self.drift))
        use = new_drift - self.drift
        self.drift = new_drift
        own = use in errors
        if not own and errors:
            use = min(errors, key=lambda d: (errors[d], abs(d)))
        # Sure of the copy: its own frame, the same picture beyond doubt (a frame of the
        # same shot further on also matches, after an edit inside a shot).
        sure = own and errors[use] <= JUMP_ERROR
        self._unmatched = 0 if sure else self._unmatched + 1
        if errors.get(use, np.inf) > MAX_MATCH_ERROR:
            return None, None, False
        found = expected + use
        span = range(found - FUSE_RADIUS, found + FUSE_RADIUS + 1)
        near = {k: lab for k in span if (lab := self.frames.get(k)) is not None}
        aligned = [align_copy(lab, L_work) for lab in near.values()]
        centre = list(near).index(found)
        chroma, trust = fused(aligned, centre)
        if not trust.any():
            return None, None, False
        _, own_trust, _, own_misfit, own_L = aligned[centre]
        level = noise_level(own_misfit, own_trust > 0)
        if self.restorer is not None:
            chroma = without_wear(chroma, own_L, L_work, self.restorer, level,
                                  blockiness(chromaticity(near[found])))
        else:
            chroma = guided_ab(chroma, L_work, eps=level)
        ab = relit(upsample_ab(chroma, L_work, L), L)
        trust = cv2.resize(trust, L.shape[::-1], interpolation=cv2.INTER_LINEAR)
        trust = np.clip((trust - MIN_TRUST) / (SURE_TRUST - MIN_TRUST), 0.0, 1.0)
        if L.shape == frame_shape:
            return ab, trust, own
        # The master's bars are black: grey there, as sure as the copy's colour (any other
        # colour at L 0 comes out a few levels off black).
        ab_frame = np.zeros(frame_shape + (2,), np.float32)
        trust_frame = np.ones(frame_shape, np.float32)
        ab_frame[rows, cols], trust_frame[rows, cols] = ab, trust
        return ab_frame, trust_frame, own

    def _errors(self, L_work: np.ndarray, expected: int) -> dict[int, float]:
        """The :func:`match_error` of the copy frames within :data:`DRIFT_SEARCH` of
        ``expected`` that the copy has, by their distance from it."""
        candidates = {d: self.frames.get(expected + d)
                      for d in range(-DRIFT_SEARCH, DRIFT_SEARCH + 1)}
        return {d: match_error(L_work, lab[..., 0]) for d, lab in candidates.items()
                if lab is not None}

    def _searched(self, L_work: np.ndarray, expected: int, near: float) -> int:
        """Where to look for the copy frame of a master frame (lightness ``L_work``) that
        the copy has not been sure of for a while: the far copy frame most like it
        (:class:`~vidcolor.video.copy_search.CopySearch`), followed from now on, if it is the
        same picture beyond doubt (:data:`JUMP_ERROR`) and far more like it than the best
        near ``expected`` is (``near``, :data:`JUMP_RATIO`); else ``expected``."""
        found = self.search.find(L_work, expected)
        if (found is None or found[1] > min(JUMP_ERROR, JUMP_RATIO * near)
                or found[0] == expected):
            return expected
        self.drift += found[0] - expected
        self._proposed = None
        self.jumps += 1
        return found[0]

    def _confirmed(self, proposed: int) -> int:
        """The drift to follow from this frame on: ``proposed`` once it was proposed for
        :data:`DRIFT_CONFIRM` frames in a row, else the current one."""
        if proposed == self.drift or self._proposed is None:
            self._proposed = (proposed, 0)
            return proposed
        seen = self._proposed[1] + 1 if self._proposed[0] == proposed else 1
        self._proposed = (proposed, 0) if seen >= DRIFT_CONFIRM else (proposed, seen)
        return proposed if seen >= DRIFT_CONFIRM else self.drift

    def _carried_fill(self, frame: FrameAnalysis) -> tuple[np.ndarray, np.ndarray]:
        """The last frame's a/b carried one step along the flow to ``frame``, and the step's
        trust, (h, w, 2) and (h, w)."""
        bwd, fwd = frame.flows()
        previous = frame.previous.L
        offset = float(frame.L.mean() - previous.mean())
        warped, trust = warp_step(self._fill, previous, frame.L, bwd, fwd, l_offset=offset)
        return warped[..., :2], trust

    def _rest(self, L: np.ndarray, ab_model: np.ndarray, ab_copy: np.ndarray | None,
              trust: np.ndarray, fill: tuple[np.ndarray, np.ndarray] | None,
              features: np.ndarray | None) -> np.ndarray:
        """The colour of the pixels the copy does not colour with trust: the model's,
        corrected towards the copy by the spread (in proportion to the copy's coverage; not
        without ``ab_copy``), moved to the matches' colour by their confidence
        (:meth:`_matched`), then what the frame before had where that step is trusted."""
        base = ab_model
        if ab_copy is not None and (trust < 1.0).mean() >= SPREAD_FROM:
            coverage = min(1.0, float(trust.mean()) / FULL_COVERAGE)
            corrected = np.asarray(self.spread(L, ab_model, ab_copy, trust), np.float32)
            base = ab_model + coverage * (corrected - ab_model)
        base = self._matched(L, base, trust, fill, features)
        return base if fill is None else guided(base, *fill)

    def _matched(self, L: np.ndarray, base: np.ndarray, trust: np.ndarray,
                 fill: tuple[np.ndarray, np.ndarray] | None,
                 features: np.ndarray | None) -> np.ndarray:
        """``base`` (h, w, 2) moved towards the colour of the cells that look alike in the
        last well-coloured frames, by the match's confidence, on the grid cells that neither
        the copy (``trust``, h x w) nor the flow from the frame before (``fill``'s trust)
        colour (:data:`MATCH_FROM`); ``base`` itself without features or such frames."""
        if features is None or not self._exemplars:
            return base
        left = (1.0 - trust) * (1.0 if fill is None else 1.0 - fill[1])
        matched = correspond_where(features, L, self._exemplars, left, MATCH_FROM)
        if matched is None:
            return base
        self.matched += 1
        return guided(base, *matched)
