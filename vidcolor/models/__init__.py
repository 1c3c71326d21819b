"""Networks, backbones and the on-disk model format.

Importing this package loads nothing: Keras (and with it TensorFlow) is imported only when a
Keras network is built or loaded, through :func:`import_keras`. Colouring with the shipped
model needs neither (it runs the model's OpenVINO IR); Keras is the optional ``train`` extra.
"""

import importlib.util
import logging
import os

from vidcolor.errors import VidcolorError

TRAIN_HINT = 'pip install "vidcolor[train]"'


def keras_available() -> bool:
    """True when Keras and its backend (``KERAS_BACKEND``, by default TensorFlow) are
    installed; imports neither."""
    backend = os.environ.get("KERAS_BACKEND") or "tensorflow"
    return all(importlib.util.find_spec(name) is not None for name in ("keras", backend))


def require_keras(what: str) -> None:
    """Raise a one-line :class:`VidcolorError` naming the ``train`` extra unless Keras and
    TensorFlow are installed; ``what`` is what needs them (\"--runtime keras\")."""
    if not keras_available():
        raise VidcolorError(f"{what} needs Keras and TensorFlow, which are not installed: "
                            f"{TRAIN_HINT}")


def import_keras():
    """Import Keras with TensorFlow's start-up chatter kept off the terminal.

    TensorFlow's C++ runtime prints several lines (oneDNN notes, CUDA probing) straight to
    file descriptor 2 when it loads, and its Python logger warns about retracing compiled
    functions (tiles of several sizes do that by design); users of a CLI should see neither.
    Python-level errors still propagate after stderr is restored.

    Returns
    -------
    module
        ``keras``.

    Raises
    ------
    VidcolorError
        Keras or TensorFlow is not installed (one line naming the ``train`` extra).
    """
    require_keras("the Keras network")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras
    except ImportError as e:  # installed, but its backend is not
        raise VidcolorError(f"Keras cannot be imported ({e}): {TRAIN_HINT}") from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return keras


def file_sha256(path) -> str:
    """A file's SHA-256 (hex), read in 1 MiB blocks: what names a model file's content."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
