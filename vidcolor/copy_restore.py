"""The colour copy's restorer: a worn copy's chroma brought back towards the clean copy's,
guided by the master's lightness, at the copy's own size.

A worn colour copy (a low-resolution print or tape, compressed) is mostly wrong in block-sized
patches of colour that the master's lightness does not show, which no filter guided by that
lightness can take out; a small network trained on photos worn the same way
(:mod:`vidcolor.models.copy_nets`, ``training/train_copy.py``) learns what such wear looks
like next to the true lightness. It runs from OpenVINO IR shipped with the package
(``weights/copy/restorer.xml``), so no Keras is needed.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from vidcolor.models.ov_tools import import_openvino

__all__ = ["CopyRestorer", "IR_PATH", "MULTIPLE", "WIDTH", "available", "network_input"]

#: The shipped network's OpenVINO IR (its weights in the ``.bin`` beside it).
IR_PATH = Path(__file__).parent / "weights" / "copy" / "restorer.xml"
#: Heights and widths the network takes are multiples of this (three downsamplings).
MULTIPLE = 8
#: The shipped network's width (channels at its first level; :mod:`vidcolor.models.copy_nets`).
WIDTH = 22


def available(path: Path = IR_PATH) -> bool:
    """Whether the restorer's IR is there (and OpenVINO to run it)."""
    from vidcolor.models import openvino_model

    return Path(path).is_file() and Path(path).with_suffix(".bin").is_file() \
        and openvino_model.available()


def network_input(L_master: np.ndarray, L_copy: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """The network's input (h, w, 4) float32 from the master's lightness and the copy's, (h, w)
    in [0, 100], and the copy's chromaticity (h, w, 2;
    :func:`vidcolor.video.colour_copy.chromaticity`, about [-600, 600]), each / 100."""
    return np.concatenate([L_master[..., None], L_copy[..., None], chroma], -1).astype(
        np.float32) / 100.0


class CopyRestorer:
    """The restorer network, compiled once for the CPU (at bf16 precision where the CPU has
    it); callable from several threads.

    Parameters
    ----------
    path : Path
        Its IR (default: the shipped one).
    threads : int, optional
        CPU threads for OpenVINO (default: its own choice).
    precision : {"bf16", "f32"}, optional
        OpenVINO's inference precision (default: bf16 where the CPU has it, else f32).
    """

    def __init__(self, path: Path = IR_PATH, threads: int | None = None,
                 precision: str | None = None):
        ov = import_openvino()

        from vidcolor.models.openvino_model import has_bf16

        core = ov.Core()
        # bf16 where the CPU has it: half the time, the same gains to 0.005 dB (RESULTS.md).
        precision = precision or ("bf16" if has_bf16(core) else "f32")
        config = {"INFERENCE_PRECISION_HINT": precision}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self._compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self._lock = threading.Lock()

    def __call__(self, chroma: np.ndarray, L_copy: np.ndarray, L_master: np.ndarray
                 ) -> np.ndarray:
        """The copy's chromaticity (h, w, 2) restored, from it, the copy's lightness and the
        master's at the same size (h, w), in [0, 100]. Any h, w: the input is mirrored out to
        a multiple of :data:`MULTIPLE` and the answer cropped back.

        Returns
        -------
        ndarray of float32, shape (h, w, 2)
        """
        h, w = L_master.shape
        x = network_input(L_master, L_copy, chroma)
        ph, pw = -h % MULTIPLE, -w % MULTIPLE
        if ph or pw:
            x = np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="symmetric")
        # The network was trained on mirrored pictures alike, so it answers each mirror
        # differently only by its own error: their mean (mirrored back) has less of it.
        views = np.stack([x, x[:, ::-1], x[::-1], x[::-1, ::-1]])
        with self._lock:
            out = self._compiled(views)[0]
        mean = (out[0] + out[1, :, ::-1] + out[2, ::-1] + out[3, ::-1, ::-1]) / 4.0
        return np.ascontiguousarray(mean[:h, :w] * 100.0, np.float32)
