"""``vidcolor train`` and ``vidcolor bench``: commands whose code lives outside the runtime
(which never imports it); the whole command line is handed over to that module's own parser."""

from __future__ import annotations

import os
import sys

HANDOVERS = {
    "train": ("training.train", "train a model on folders of colour photos (see `vidcolor train --help`)"),
    "bench": ("benchmarks.throughput", "measure video throughput stage by stage (see `vidcolor bench --help`)"),
}


def _add_handovers(sub) -> None:
    for name, (_module, help_text) in HANDOVERS.items():
        sub.add_parser(name, help=help_text, add_help=False)


def _hand_over(command: str, rest: list[str]) -> int:
    module = HANDOVERS[command][0]
    if command == "train":
        from vidcolor.models import TRAIN_HINT, keras_available

        if not keras_available():  # before the new process, whose import would be a traceback
            print(f"vidcolor: error: training needs Keras and TensorFlow, which are not "
                  f"installed: {TRAIN_HINT}", file=sys.stderr)
            return 1
    os.execv(sys.executable, [sys.executable, "-m", module, *rest])
    return 0  # not reached
