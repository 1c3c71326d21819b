"""Networks, backbones and the on-disk model format.

Importing this package loads nothing: Keras (and with it TensorFlow) is imported when a model
is built or loaded, through :func:`import_keras`.
"""

import logging
import os


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
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return keras
