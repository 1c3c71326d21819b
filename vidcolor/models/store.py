"""The model directory format, and :class:`Colorizer`, the one object the rest of vidcolor uses.

A model directory holds two files:

- ``config.json``: ``{"format": 1, "name": ..., "arch": "alpha"|"beta"|"fusion", "build": {...},
  "render_size": int, "decode": {...}, "train": {...}}``. ``build`` holds the keyword arguments of
  :func:`vidcolor.models.nets.build`; ``decode`` how the a/b prediction is read out.
- ``weights.npz``: every weight of the network except the frozen ImageNet backbone (which comes
  from its own package), keyed by variable path, float16 where that is lossless enough.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from vidcolor.errors import VidcolorError

FORMAT = 1
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "weights" / "default"


class Colorizer:
    """A loaded colorization network: L in, a/b out.

    Attributes
    ----------
    name : str
        Shown in provenance marks.
    render_size : int
        The side of the square whose area the render should roughly have (see
        :func:`vidcolor.colorize.render_shape`).
    multiple : int
        Render heights and widths are best multiples of this; other sizes are padded.
    uses_global_features : bool
        True for fusion models, whose global (whole-image) features can be computed once with
        :meth:`global_features` and shared by tiles of the same image.
    """

    def __init__(self, config: dict, nets, directory: Path | None = None):
        self.config = config
        self.directory = directory  # where it was loaded from, if anywhere
        self.name = config.get("name", config["arch"])
        self.render_size = int(config.get("render_size", 256))
        self.multiple = 32
        self.nets = nets  # vidcolor.models.nets.Nets
        self.uses_global_features = nets.backbone is not None

    def _pad(self, L: np.ndarray) -> tuple[np.ndarray, int, int]:
        n, h, w = L.shape
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode = "reflect" if (h > ph and w > pw) else "edge"
            L = np.pad(L, ((0, 0), (0, ph), (0, pw)), mode=mode)
        return L, h, w

    def global_features(self, L: np.ndarray) -> np.ndarray | None:
        """Whole-image features of a fusion model, to share between tiles.

        Parameters
        ----------
        L : ndarray of float32, shape (N, h, w), in [0, 100]

        Returns
        -------
        ndarray of float32, shape (N, D), or None for models without global features.
        """
        if not self.uses_global_features:
            return None
        L, _, _ = self._pad(np.asarray(L, np.float32))
        return self.nets.global_features(L[..., None])

    def predict_ab(self, L: np.ndarray, global_features: np.ndarray | None = None) -> np.ndarray:
        """Predict a/b for a batch of lightness images.

        Parameters
        ----------
        L : ndarray of float32, shape (N, h, w), in [0, 100]
            Any h and w; multiples of :attr:`multiple` avoid padding.
        global_features : ndarray of float32, shape (N, D) or (1, D), optional
            From :meth:`global_features` of another (e.g. the whole, downscaled) image; by
            default each image's own.

        Returns
        -------
        ab : ndarray of float32, shape (N, h, w, 2), in [-128, 128]
        """
        L = np.asarray(L, np.float32)
        if L.ndim != 3:
            raise ValueError(f"expected L of shape (N, h, w), got {L.shape}")
        Lp, h, w = self._pad(L)
        ab = self.nets.predict_ab(Lp[..., None], global_features)
        return np.ascontiguousarray(ab[:, :h, :w])


def _replace_atomically(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the model from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(nets, directory: str | Path, config: dict) -> None:
    """Write (or update) a model directory; each file is replaced atomically.

    Parameters
    ----------
    nets : vidcolor.models.nets.Nets
    directory : str or Path
        Created if needed; other files in it (training checkpoints) are left alone.
    config : dict
        Must hold ``arch`` and ``build``; ``name``, ``render_size``, ``decode`` are optional.
    """
    from vidcolor.models import nets as nets_module

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stored = {}
    for key, value in nets_module.own_weights(nets).items():
        half = value.astype(np.float16)
        # float16 halves the shipped size; keep float32 where it would change the weight.
        lossless = np.all(np.isfinite(half)) and np.allclose(half, value, rtol=2e-3, atol=1e-4)
        stored[key] = half if lossless else value

    def write_weights(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **stored)

    def write_config(tmp):
        with open(tmp, "w") as f:
            json.dump({"format": FORMAT, **config}, f, indent=2, sort_keys=True)

    # Weights first: a config never points at weights that are not there yet.
    _replace_atomically(directory / "weights.npz", write_weights)
    _replace_atomically(directory / "config.json", write_config)


def read_config(directory: str | Path) -> dict:
    directory = Path(directory)
    path = directory / "config.json"
    if not path.is_file():
        raise VidcolorError(f"{directory}: not a vidcolor model directory (no config.json)")
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise VidcolorError(f"{path}: unreadable model config ({e})") from None
    if config.get("format") != FORMAT or "arch" not in config:
        raise VidcolorError(f"{path}: unsupported model format")
    return config


def load_model(directory: str | Path | None = None) -> Colorizer:
    """Load a model directory (by default the model shipped with vidcolor).

    Parameters
    ----------
    directory : str or Path, optional

    Returns
    -------
    Colorizer
    """
    from vidcolor.models import nets as nets_module

    directory = Path(directory) if directory is not None else DEFAULT_MODEL_DIR
    config = read_config(directory)
    try:
        with np.load(directory / "weights.npz") as data:
            weights = {k: data[k] for k in data.files}
    except (OSError, ValueError) as e:
        raise VidcolorError(f"{directory}: unreadable weights ({e})") from None
    nets = nets_module.build(config["arch"], **config.get("build", {}))
    nets_module.set_own_weights(nets, weights)
    nets_module.set_decoding(nets, config.get("decode"))
    return Colorizer(config, nets, directory)
