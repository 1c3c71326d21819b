"""The model directory format; :func:`load_model`, the loader every job uses, and
:class:`Colorizer`, the Keras network as a :class:`~vidcolor.models.protocol.ColorModel`.

A model directory holds:

- ``config.json``: ``{"format": 1, "name": ..., "arch": "alpha"|"beta"|"fusion", "build": {...},
  "render_size": int, "decode": {...}, "train": {...}}``. ``build`` holds the keyword arguments of
  :func:`vidcolor.models.nets.build`; ``decode`` how the a/b prediction is read out.
- ``weights.npz``: every weight of the network except the frozen ImageNet backbone (which comes
  from its own package), keyed by variable path, float16 where that is lossless enough.
- the same network as OpenVINO IR, backbone included (:mod:`vidcolor.models.ir`; the
  backbone's ImageNet weights again from their package): what runs it without Keras.
  Optional: a directory without it (or with an IR of other weights) is converted from Keras
  when loaded.

Importing this module loads no Keras, and neither does :func:`load_model` on the CPU runtime.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from vidcolor.errors import OptionError, VidcolorError, first_line
from vidcolor.models import ir, shapes
from vidcolor.models.protocol import ColorModel
from vidcolor.options import ImageOptions

FORMAT = 1
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "weights" / "default"


def weights_identity(directory: str | Path | None) -> dict | None:
    """Path, size and modification time of a directory's ``weights.npz``; None if there is
    none. Every runtime of the same weights has this identity (``--resume`` relies on it)."""
    weights = Path(directory) / "weights.npz" if directory else None
    if weights is None or not weights.is_file():
        return None
    st = weights.stat()
    return {"path": os.fspath(weights.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class ModelFiles:
    """A model directory as read without Keras: its config and what a runtime needs to know
    of it (the members of :class:`~vidcolor.models.protocol.ColorModel` that are not calls).

    Parameters
    ----------
    config : dict
        As :func:`read_config` returns it.
    directory : Path
    """

    multiple = shapes.MULTIPLE

    def __init__(self, config: dict, directory: Path):
        self.config = config
        self.directory = Path(directory)
        self.arch = config["arch"]
        self.name = config.get("name", config["arch"])
        self.render_size = int(config.get("render_size") or 256)
        self.uses_global_features = self.arch == "fusion"
        self.uses_hints = bool((config.get("build") or {}).get("hints"))

    @property
    def identity(self) -> dict | None:
        """See :func:`weights_identity`."""
        return weights_identity(self.directory)


class Colorizer(ColorModel):
    """A loaded Keras colorization network: the shipped implementation of
    :class:`~vidcolor.models.protocol.ColorModel` (see there for the members).

    Sizes that are not multiples of :attr:`multiple` are padded; ``uses_global_features`` is
    True for fusion models, ``uses_hints`` for those built with ``"hints": true``;
    :attr:`identity` names the weights file it was loaded from.
    """

    def __init__(self, config: dict, nets, directory: Path | None = None):
        self.config = config
        self.directory = directory  # where it was loaded from, if anywhere
        self.name = config.get("name", config["arch"])
        self.render_size = int(config.get("render_size") or 256)
        self.multiple = shapes.MULTIPLE
        self.nets = nets  # vidcolor.models.nets.Nets
        self.uses_global_features = nets.backbone is not None
        self.uses_hints = bool(nets.hints)

    @property
    def arch(self) -> str:
        return self.nets.arch

    @property
    def identity(self) -> dict | None:
        """See :func:`weights_identity`; None if not loaded from a directory."""
        return weights_identity(self.directory)

    def pad(self, L: np.ndarray) -> tuple[np.ndarray, int, int]:
        """``L`` (N, h, w) padded to multiples of :attr:`multiple` (see
        :func:`vidcolor.models.shapes.pad`), with the original h and w."""
        return shapes.pad(L, self.multiple)

    def _pad_hints(self, hints, shape: tuple[int, int]):
        """Hints padded as L is, with no hint in the padding (a mirrored hint would be a hint
        the user never gave)."""
        if hints is None:
            return None
        if not self.uses_hints:
            raise ValueError(f"model {self.name!r} takes no hints")
        h, w = shape
        return tuple(np.pad(np.asarray(x, np.float32),
                            ((0, 0), (0, h - x.shape[1]), (0, w - x.shape[2]), (0, 0)))
                     for x in hints)

    def global_features(self, L: np.ndarray) -> np.ndarray | None:
        """See :meth:`ColorModel.global_features`: the backbone's pooled features of fusion
        models, None for the others."""
        if not self.uses_global_features:
            return None
        L, _, _ = self.pad(np.asarray(L, np.float32))
        return self.nets.global_features(L[..., None])

    def match_features(self, L: np.ndarray) -> np.ndarray | None:
        """See :meth:`ColorModel.match_features`: the backbone's stride-8 and stride-16 maps
        (:func:`vidcolor.correspond.backbone_features`) of fusion models on a multi-scale
        backbone, None for the others."""
        if not self.uses_global_features:
            return None
        Lp, h, w = self.pad(np.asarray(L, np.float32))
        return match_grid(self.nets._backbone_features(Lp[..., None])[1], (h, w))

    def predict_ab_and_features(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """See :meth:`ColorModel.predict_ab_and_features`: the backbone runs once for both."""
        if not self.uses_global_features:
            return self.predict_ab(L), None
        Lp, h, w = self.pad(np.asarray(L, np.float32))
        ab, feats = self.nets.predict_ab_and_backbone(Lp[..., None])
        return np.ascontiguousarray(ab[:, :h, :w]), match_grid(feats, (h, w))

    def predict_ab(self, L: np.ndarray, global_features: np.ndarray | None = None,
                   hints=None) -> np.ndarray:
        """See :meth:`ColorModel.predict_ab`; without ``global_features``, each image's own."""
        L = np.asarray(L, np.float32)
        if L.ndim != 3:
            raise ValueError(f"expected L of shape (N, h, w), got {L.shape}")
        Lp, h, w = self.pad(L)
        ab = self.nets.predict_ab(Lp[..., None], global_features,
                                  self._pad_hints(hints, Lp.shape[1:]))
        return np.ascontiguousarray(ab[:, :h, :w])


def match_grid(feats: list, shape: tuple[int, int]) -> np.ndarray | None:
    """The correspondence features (:func:`vidcolor.correspond.backbone_features`) of a
    backbone's outputs ``feats`` for a picture of ``shape`` (h, w), or None for a backbone
    with its global vector alone."""
    if len(feats) < 5:
        return None
    from vidcolor.correspond import backbone_features, grid_shape

    return backbone_features(feats[1], feats[2], grid_shape(shape))


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


def save_model(nets, directory: str | Path, config: dict, openvino: bool = True) -> None:
    """Write (or update) a model directory; each file is replaced atomically.

    Parameters
    ----------
    nets : vidcolor.models.nets.Nets
    directory : str or Path
        Created if needed; other files in it (training checkpoints) are left alone.
    config : dict
        Must hold ``arch`` and ``build``; ``name``, ``render_size``, ``decode`` are optional.
    openvino : bool
        Also write the OpenVINO IR (:func:`vidcolor.models.ir.write`, seconds), what colours
        without Keras; False leaves it to be converted when the model is loaded.
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
            np.savez_compressed(f, **stored)  # fp16 weights: a tenth smaller

    def write_config(tmp):
        with open(tmp, "w") as f:
            json.dump({"format": FORMAT, **config}, f, indent=2, sort_keys=True)

    # Weights first: a config never points at weights that are not there yet.
    _replace_atomically(directory / "weights.npz", write_weights)
    _replace_atomically(directory / "config.json", write_config)
    if openvino:
        ir.write(nets, directory, {"format": FORMAT, **config})


def read_config(directory: str | Path) -> dict:
    """A model directory's ``config.json``, checked (see the module docstring for its fields).

    Raises
    ------
    VidcolorError
        Missing, unreadable, not JSON, or JSON of the wrong shape; one line naming the file.
    """
    directory = Path(directory)
    path = directory / "config.json"
    if not path.is_file():
        raise VidcolorError(f"{directory}: not a vidcolor model directory (no config.json)")
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise VidcolorError(f"{path}: unreadable model config ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT or "arch" not in config:
        raise VidcolorError(f"{path}: unsupported model format")
    problem = _config_problem(config)
    if problem:
        raise VidcolorError(f"{path}: {problem}")
    return config


def _config_problem(config: dict) -> str | None:
    """What is wrong with a config's fields, or None: the types every reader relies on."""
    fields = {"arch": str, "name": str, "build": dict, "decode": dict}
    for key, kind in fields.items():
        if config.get(key) is not None and not isinstance(config[key], kind):
            return f"{key!r} must be a JSON {'object' if kind is dict else 'string'}"
    decode = config.get("decode") or {}
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in decode.values()):
        return "'decode' must hold numbers"
    try:  # the same bounds as a job's render size
        ImageOptions(render_size=config.get("render_size"))
    except VidcolorError as e:
        return f"'render_size': {e}"
    return None


def _read_weights(directory: Path) -> dict[str, np.ndarray]:
    """Every array of ``weights.npz``; a truncated or foreign file is a one-line error."""
    try:
        data = np.load(directory / "weights.npz", allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):  # one .npy array, already read whole
            raise ValueError("not an .npz archive")
        with data:
            return {k: data[k] for k in data.files}
    except Exception as e:  # noqa: BLE001 - zip, zlib and npy readers raise anything on damage
        reason = first_line(e)
    raise VidcolorError(f"{directory}: unreadable weights ({reason})")


def model_directory(directory: str | Path | None) -> Path:
    """The directory a ``--model`` value names (None: the shipped model's), checked to exist.

    Raises
    ------
    VidcolorError
        No such directory, or the shipped model missing from the installation.
    """
    if directory is None and not (DEFAULT_MODEL_DIR / "config.json").is_file():
        raise OptionError("directory", "the shipped model is missing ({shipped}); pass a "
                          "trained model with {field} DIR", "--model", shipped=DEFAULT_MODEL_DIR)
    if directory is not None and not Path(directory).is_dir():
        raise VidcolorError(f"{directory}: no such model directory")
    return Path(directory) if directory is not None else DEFAULT_MODEL_DIR


def load_model(directory: str | Path | None = None, runtime: str = "auto") -> ColorModel:
    """Load a model directory (by default the model shipped with vidcolor) for a runtime.

    On the CPU runtime (OpenVINO) the directory's IR is run and Keras is never imported; a
    directory without a current IR is converted from Keras (which must then be installed).

    Parameters
    ----------
    directory : str or Path, optional
    runtime : {"auto", "keras", "openvino"}
        See :mod:`vidcolor.models.runtimes`.

    Returns
    -------
    ColorModel
        :class:`~vidcolor.models.openvino_model.OpenVinoColorizer` or :class:`Colorizer`.

    Raises
    ------
    VidcolorError
        A missing, unreadable or damaged model, with a one-line message naming the folder; a
        runtime that is not installed (naming the extra that installs it).
    """
    from vidcolor.models import require_keras
    from vidcolor.models.runtimes import choose_runtime

    directory = model_directory(directory)
    files = ModelFiles(read_config(directory), directory)
    if choose_runtime(runtime, files.uses_hints) == "keras":
        return load_keras_model(directory)
    from vidcolor.models.openvino_model import OpenVinoColorizer

    problem = ir.problem(directory, files.config)
    if problem is None:
        return OpenVinoColorizer(files)
    require_keras(f"{directory}: {problem}; converting it")
    return OpenVinoColorizer(load_keras_model(directory))


def write_ir(directory: str | Path) -> None:
    """(Re)write a model directory's OpenVINO IR from its Keras weights and config: for a
    model trained before the IR existed, or whose read-out was changed since. Needs Keras."""
    model = load_keras_model(directory)
    ir.write(model.nets, model.directory, model.config)


def load_keras_model(directory: str | Path | None = None) -> Colorizer:
    """Load a model directory (by default the shipped model) as the Keras network: for
    training, export and ``--runtime keras``.

    Raises
    ------
    VidcolorError
        As :func:`load_model`; Keras not installed (one line naming the ``train`` extra).
    """
    from vidcolor.models import import_keras

    import_keras()
    from vidcolor.models import nets as nets_module

    directory = model_directory(directory)
    config = read_config(directory)
    weights = _read_weights(directory)
    try:
        nets = nets_module.build(config["arch"], **config.get("build", {}))
        nets_module.set_own_weights(nets, weights)
        nets_module.set_decoding(nets, config.get("decode"))
    except VidcolorError as e:
        raise VidcolorError(f"{directory}: {e}") from None
    except (TypeError, ValueError) as e:  # build arguments the network does not take
        reason = first_line(e)
        raise VidcolorError(f"{directory}: the network cannot be built from config.json "
                            f"({reason})") from None
    return Colorizer(config, nets, directory)
