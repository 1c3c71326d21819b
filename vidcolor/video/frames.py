"""The per-frame steps of a film, independent of files and threads.

One frame's path: RGB -> full-resolution L -> render-size L (:meth:`FrameColorizer.prepare`)
-> the model's a/b for a batch of frames (:meth:`~FrameColorizer.predict`) -> in display
order, the frame analysed once (:class:`vidcolor.video.analysis.FrameAnalyzer`: cut, flow),
temporal stabilization and the keyframes' guide on that analysis -> a/b upsampled with the
full-resolution L and turned into RGB (:meth:`~FrameColorizer.finish`). The streaming pipeline
(:mod:`vidcolor.video.stages`) runs these steps in three threads; :meth:`colorize_frames` runs
them in one, for benchmarks and tests. Both batch through :func:`batched` and
:meth:`~FrameColorizer.colorize_batch`, so there is one batching implementation.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Iterable, Iterator, TypeVar

import numpy as np

from vidcolor import color
from vidcolor.colorize import model_upsampler, render_shape, resize_l
from vidcolor.finish import finish_rgb
from vidcolor.models.protocol import ColorModel, check_model
from vidcolor.errors import VidcolorError
from vidcolor.options import VideoOptions, max_batch_size
from vidcolor.video.analysis import FrameAnalyzer
from vidcolor.video.stabilize import Stabilizer

if TYPE_CHECKING:
    from vidcolor.video.keyframes import KeyframeOverlay

__all__ = ["Frame", "FrameColorizer", "batch_size_for", "batched", "default_batch_size"]

T = TypeVar("T")


def default_batch_size() -> int:
    """Frames per model call: larger on a GPU, where it pays, small on a CPU (less latency
    and memory). Only looks for a GPU through modules already imported (by the model):
    JAX where Keras runs on it, else TensorFlow."""
    try:
        keras = sys.modules.get("keras")
        if keras is not None and keras.backend.backend() == "jax":
            gpu = sys.modules["jax"].default_backend() in ("gpu", "cuda", "rocm")
        else:
            tf = sys.modules.get("tensorflow")
            gpu = tf is not None and bool(tf.config.list_physical_devices("GPU"))
    except Exception:  # noqa: BLE001 - any failure means: no usable GPU
        gpu = False
    return 32 if gpu else 8


#: Bytes of full-resolution lightness (float32) one batch may hold: a batch's frames travel
#: whole through the model call, so a 4K film (33 MB a frame) takes at most 128 a batch, 8K 32.
MAX_BATCH_FRAME_BYTES = 4 << 30


def batch_size_for(requested: int | None, render_size: int, height: int, width: int) -> int:
    """Frames per model call for a film: the one asked for, or the device's default, within
    the memory bounds of the render size (:func:`vidcolor.options.max_batch_size`, which
    :class:`~vidcolor.options.VideoOptions` enforces on a requested one) and of the film's
    frame size (:data:`MAX_BATCH_FRAME_BYTES`).

    Raises
    ------
    VidcolorError
        ``requested`` is over the frame size's bound.
    """
    by_frames = max(1, MAX_BATCH_FRAME_BYTES // (4 * height * width))
    if requested is None:
        return min(default_batch_size(), max_batch_size(render_size), by_frames)
    if requested > by_frames:
        raise VidcolorError(f"batch size {requested} with {width}x{height} frames would hold "
                            f"{requested * 4 * height * width / 2**30:.0f} GiB of frames; at "
                            f"most {by_frames} at that size")
    return requested


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


@dataclass
class Frame:
    """One video frame between decoding and finishing.

    Attributes
    ----------
    pts : int
        In the input stream's time base.
    L_full : ndarray of float32, shape (H, W), in [0, 100]
    L_small : ndarray of float32, shape (h, w), in [0, 100]
        At render size.
    ab : ndarray of float32, shape (h, w, 2), in about [-110, 110], or None
        Set by :meth:`FrameColorizer.colorize_batch` (stabilized, at render size).
    features : ndarray of float32, shape (h/8, w/8, C), or None
        The model's match features, set with ``ab`` where the keyframes' guide wants them
        (:meth:`vidcolor.video.keyframes.KeyframeGuide.wants_features`).
    keyed : KeyframeOverlay or None
        Set with ``ab`` where a keyframe's colour reaches the frame: laid over the upsampled
        ``ab`` at full resolution (:class:`vidcolor.video.keyframes.KeyframeOverlay`).
    state : dict or None
        The stabilizer's state after this frame, when it is to be saved with the segment
        this frame ends (what a resumed job continues from).
    warmup : bool
        The frame only seeds the stabilizer (a chunk's warm-up): colorized, never written.
    full_chroma : bool
        Set with ``ab`` where a colour copy coloured the frame: its chroma has detail finer
        than the render (relit by the frame's own lightness), so the gamut is fitted pixel by
        pixel, not smoothed over a render pixel (:func:`vidcolor.finish.gamut_radius`), and
        it estimates colours inside the gamut, so it is brought in near them, not towards
        grey (:func:`vidcolor.color.nearest_in_gamut`).
    """

    pts: int
    L_full: np.ndarray
    L_small: np.ndarray
    ab: np.ndarray | None = None
    features: np.ndarray | None = None
    keyed: KeyframeOverlay | None = None
    state: dict | None = None
    warmup: bool = False
    full_chroma: bool = False


class FrameColorizer:
    """Colorizes frames of one film with one model.

    Parameters
    ----------
    model : ColorModel
    render_size : int, optional
        Defaults to the model's.
    stabilizer : Stabilizer or None
        None: every frame is colorized on its own.
    guide : KeyframeGuide or None
        ``guide.step(pts, analysis, ab, features) -> (ab, overlay or None)`` after
        stabilization, in display order, with ``wants_features(pts)`` (asked when the model
        colours the frame), ``get_state()`` and ``set_state(state)`` (the keyframes' colour,
        :class:`vidcolor.video.keyframes.KeyframeGuide`); None: the model's colour only.
    copy : ColourCopyStep or None
        ``copy.step(pts, analysis, ab, features) -> (ab, coloured)`` after stabilization, in
        display order, with ``wants_features(pts)``, ``get_state()`` and ``set_state(state)``
        (a colour copy's colour,
        :class:`vidcolor.video.colour_copy.ColourCopyStep`; the copy's colour is the truth
        frame by frame, which the stabilizer's blending of the frame before would only blur);
        keyframes still win in their shots, as the guide comes after it.
    references : ReferenceGuide or None
        ``references.step(pts, analysis, ab, features) -> ab`` before stabilization, with
        ``wants_features(pts)``: the reference photos' colour
        (:class:`vidcolor.video.references.ReferenceGuide`); None: none.
    """

    def __init__(self, model: ColorModel, render_size: int | None = None,
                 stabilizer: Stabilizer | None = None, guide=None, copy=None, references=None):
        self.model = check_model(model)
        self.render_size = int(render_size or model.render_size)
        self.stabilizer = stabilizer
        self.guide = guide
        self.copy = copy
        self.references = references
        #: The film's frame analysis, shared by the stabilizer and the guide.
        self.analyzer = FrameAnalyzer()
        self.cuts = 0
        #: The shape (H, W) of the frames the pictures are shown as, when it is not their own
        #: (the fields of an interlaced film: half its height): their render copies keep its
        #: aspect. None: each picture's own shape.
        self.display_shape: tuple[int, int] | None = None
        #: ``pairing.step(pts, analysis, ab) -> ab`` after stabilization, for the fields of an
        #: interlaced film (:class:`vidcolor.video.interlaced.FieldPairing`); None: none.
        self.pairing = None

    @classmethod
    def from_options(cls, model: ColorModel, options: VideoOptions) -> "FrameColorizer":
        """The colorizer a :class:`~vidcolor.options.VideoOptions` asks for."""
        stabilizer = Stabilizer(options.stabilize_strength) if options.stabilize else None
        return cls(model, options.render_size, stabilizer)

    def render_shape(self, height: int, width: int) -> tuple[int, int]:
        own = getattr(self.model, "resampler", None)
        if own is not None:  # another network's own render (its square)
            return own.render_shape((height, width), self.render_size, self.model.multiple)
        return render_shape(height, width, self.render_size, self.model.multiple)

    def prepare(self, rgb: np.ndarray, pts: int = 0) -> Frame:
        """Full-resolution and render-size lightness of one frame.

        Parameters
        ----------
        rgb : ndarray of uint8 or uint16, shape (H, W, 3)
        pts : int

        Returns
        -------
        Frame
            Without ``ab`` yet.
        """
        L_full = color.rgb_to_l(rgb)
        shape = self.render_shape(*(self.display_shape or L_full.shape))
        own = getattr(self.model, "resampler", None)
        if own is None:
            return Frame(pts, L_full, resize_l(L_full, shape))
        return Frame(pts, L_full, own.shrink(lambda rows: L_full[rows], L_full.shape, shape))

    def predict(self, L_small: list[np.ndarray], batch_size: int | None = None,
                features: bool = False):
        """Model chroma for a batch of render-size frames: (N, h, w) -> (N, h, w, 2); with
        ``features``, also their match features (N, h/8, w/8, C) or None, from the same call
        (:meth:`~vidcolor.models.protocol.ColorModel.predict_ab_and_features`).

        A short batch (a clip's last) is padded to ``batch_size`` with copies of its last frame:
        the model's compiled function is per input shape, and a new batch size would cost
        another trace (about a second on a CPU), far more than a few extra frames.
        """
        n = len(L_small)
        batch = np.stack(L_small).astype(np.float32, copy=False)
        if batch_size is not None and n < batch_size:
            batch = np.concatenate([batch, np.repeat(batch[-1:], batch_size - n, axis=0)])
        if not features:
            return np.asarray(self.model.predict_ab(batch)[:n], np.float32)
        ab, feats = self.model.predict_ab_and_features(batch)
        return (np.asarray(ab[:n], np.float32),
                None if feats is None else np.asarray(feats[:n], np.float32))

    def colorize_batch(self, frames: list[Frame], batch_size: int | None = None) -> list[Frame]:
        """Predict a batch of frames, then follow each in display order (:meth:`follow`);
        sets each ``ab`` (and ``keyed``)."""
        for frame in self.predict_batch(frames, batch_size):
            self.follow(frame)
        return frames

    def predict_batch(self, frames: list[Frame], batch_size: int | None = None) -> list[Frame]:
        """Set each frame's ``ab`` to the model's (:meth:`predict`), and its ``features``
        where the keyframes' guide, the reference photos' or the colour copy may want them."""
        steps = [s for s in (self.guide, self.references, self.copy) if s is not None]
        wants = any(s.wants_features(f.pts) for s in steps for f in frames)
        L = [f.L_small for f in frames]
        ab, feats = self.predict(L, batch_size, True) if wants else \
            (self.predict(L, batch_size), None)
        for i, frame in enumerate(frames):
            frame.ab = ab[i]
            frame.features = None if feats is None else feats[i]
        return frames

    def follow(self, frame: Frame) -> Frame:
        """The temporal steps on the next frame in display order, on one analysis of it
        (:mod:`vidcolor.video.analysis`): the reference photos' guide, the stabilizer (which
        keeps the references' colour steady), the fields' pairing, the colour copy, then the
        keyframes' guide (whose trusted colour wins over the references'); replaces its ``ab``
        (and sets ``keyed``, ``full_chroma``). Nothing without them."""
        if not self.has_state and self.pairing is None and self.references is None:
            return frame
        analysis = self.analyzer(frame.L_small)
        if self.references is not None:
            frame.ab = self.references.step(frame.pts, analysis, frame.ab, frame.features)
        if self.stabilizer is not None:
            frame.ab, info = self.stabilizer.step(analysis, frame.ab)
            self.cuts += int(info.cut)
        if self.pairing is not None:
            frame.ab = self.pairing.step(frame.pts, analysis, frame.ab)
        if self.copy is not None:
            frame.ab, frame.full_chroma = self.copy.step(frame.pts, analysis, frame.ab,
                                                         frame.features)
        if self.guide is not None:
            frame.ab, frame.keyed = self.guide.step(frame.pts, analysis, frame.ab,
                                                    frame.features)
            frame.features = None  # not needed further down the frame's path
        return frame

    @property
    def has_state(self) -> bool:
        """Whether frames depend on earlier ones (a resumed job must restore a state)."""
        return any(step is not None for step in (self.stabilizer, self.guide, self.copy))

    def _steps(self) -> dict:
        """The stateful steps by the name their state is kept under."""
        steps = {"analysis": self.analyzer, "copy": self.copy, "stabilize": self.stabilizer,
                 "keyframes": self.guide}
        return {name: step for name, step in steps.items() if step is not None}

    def get_state(self) -> dict | None:
        """The analysis's, the stabilizer's and the guide's state after the last frame, as one
        dict of arrays, each step's keys under its own name (``stabilize.ab``...)."""
        state = {f"{name}.{key}": value for name, step in self._steps().items()
                 for key, value in (step.get_state() or {}).items()}
        return state or None

    def set_state(self, state: dict | None) -> None:
        """Restore :meth:`get_state`'s dict (None: start afresh)."""
        for name, step in self._steps().items():
            prefix = name + "."
            own = {k[len(prefix):]: v for k, v in (state or {}).items() if k.startswith(prefix)}
            step.set_state(own or None)

    def finish(self, frame: Frame, dtype=np.uint8) -> np.ndarray:
        """Full-resolution RGB of a colorized frame (see :func:`vidcolor.finish.finish_rgb`;
        another network's own resize where the model has one), with the keyframes'
        full-resolution colour laid over where it reaches.

        Returns
        -------
        ndarray of `dtype`, shape (H, W, 3)
        """
        overlay = None if frame.keyed is None else frame.keyed.apply
        return finish_rgb(frame.ab, frame.L_small, frame.L_full, dtype,
                          model_upsampler(self.model), overlay, 0 if frame.full_chroma else None,
                          nearest=frame.full_chroma)

    def colorize_frames(self, frames: Iterable[np.ndarray],
                        batch_size: int = 8) -> Iterator[np.ndarray]:
        """Colorize a sequence of RGB frames in one thread (for benchmarks and tests).

        Parameters
        ----------
        frames : iterable of ndarray, uint8 or uint16, shape (H, W, 3)

        Yields
        ------
        ndarray, same dtype and shape as each input frame
        """
        for batch in batched(((rgb.dtype, self.prepare(rgb)) for rgb in frames), batch_size):
            self.colorize_batch([f for _, f in batch], batch_size)
            for dtype, frame in batch:
                yield self.finish(frame, dtype)
