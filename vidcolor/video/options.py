"""Light constants and argument parsing for `vidcolor video` (no heavy imports: the CLI's
``--help`` must stay fast)."""

from __future__ import annotations

import re

#: Default stabilization strength, chosen by measurement (benchmarks/RESULTS.md, temporal).
DEFAULT_STRENGTH = 0.8

_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


def parse_time(text: str) -> float:
    """Seconds from ``"12.5"``, ``"1:02.5"`` (MM:SS) or ``"1:00:02.5"`` (HH:MM:SS).

    Raises
    ------
    ValueError
        Unparseable or negative.
    """
    text = text.strip()
    m = _CLOCK.match(text)
    if m:
        hours, minutes, seconds = m.groups()
        value = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    else:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"not a time: {text!r} (use seconds or [HH:]MM:SS)") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"time must be a finite number >= 0, got {text!r}")
    return value
