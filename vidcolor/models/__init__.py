"""Networks, backbones and the on-disk model format."""

import os


def _import_keras_quietly():
    # TensorFlow's C++ runtime prints several lines (oneDNN notes, CUDA probing) straight to
    # file descriptor 2 when it loads; users of a CLI should not see them. Python-level errors
    # still propagate after stderr is restored.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_keras_quietly()
