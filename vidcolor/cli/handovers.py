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
        from vidcolor.errors import VidcolorError
        from vidcolor.models import require_keras

        try:  # before the new process, whose import would be a traceback
            require_keras("training")
        except VidcolorError as e:
            print(f"vidcolor: error: {e}", file=sys.stderr)
            return 1
    os.execv(sys.executable, [sys.executable, "-m", module, *rest])
    return 0  # not reached
