"""SMPTE timecode: ``HH:MM:SS:FF`` (``HH:MM:SS;FF`` drop-frame) parsed, formatted, counted.

A timecode names a frame by a clock at a nominal whole rate (the *timebase*: 24, 25, 30...;
29.97 film counts at 30). Drop-frame timecode, for 29.97 and 59.94, skips the labels ``:00``
and ``:01`` (``:00`` to ``:03`` at 59.94) at the start of every minute but each tenth, so the
clock keeps to real time. This module is pure arithmetic on those labels and imports nothing
heavy (the options check ``--timecode`` with it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Timecode", "parse_timecode", "timebase_of"]

_PATTERN = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")
#: Frames in a day at timebase 1 (timecodes wrap at 24 hours).
_DAY_SECONDS = 24 * 3600


def timebase_of(rate: Fraction | float) -> int:
    """The whole frame rate a timecode counts at: the rate rounded (29.97 -> 30), at least 1."""
    return max(1, int(round(float(rate))))


def _is_drop_rate(rate: Fraction | float) -> bool:
    """An NTSC rate (30000/1001, 60000/1001): the rates drop-frame timecode is for."""
    base = timebase_of(rate)
    return base % 30 == 0 and abs(float(rate) - base * 1000 / 1001) < 1e-3


@dataclass(frozen=True)
class Timecode:
    """A frame's label on the timecode clock.

    Attributes
    ----------
    frames : int
        Frames counted from 00:00:00:00 at ``base`` (real frames: dropped labels not counted),
        0 to one day's frames.
    base : int
        Timebase: whole frames a second of the clock (30 for 29.97).
    drop : bool
        Drop-frame labels (only for a base that is a multiple of 30).
    """

    frames: int
    base: int
    drop: bool = False

    def __post_init__(self):
        if self.drop and self.base % 30:
            raise ValueError(f"drop-frame timecode counts at 30 or 60 frames a second, "
                             f"not {self.base}")

    @property
    def _dropped(self) -> int:
        """Labels skipped a minute (2 at 30, 4 at 60)."""
        return self.base // 15 if self.drop else 0

    @property
    def _day(self) -> int:
        full = _DAY_SECONDS * self.base
        return full - self._dropped * (24 * 60 - 24 * 6) if self.drop else full

    def __add__(self, frames: int) -> "Timecode":
        """The label ``frames`` frames later (or earlier), wrapping at 24 hours."""
        return Timecode((self.frames + int(frames)) % self._day, self.base, self.drop)

    def fields(self) -> tuple[int, int, int, int]:
        """``(hours, minutes, seconds, frames)`` of the label."""
        n = self.frames
        if self.drop:
            d = self._dropped
            per_10min = 600 * self.base - 9 * d
            per_min = 60 * self.base - d
            tens, rest = divmod(n, per_10min)
            n += 9 * d * tens + (d * ((rest - d) // per_min) if rest >= d else 0)
        hours, n = divmod(n, 3600 * self.base)
        minutes, n = divmod(n, 60 * self.base)
        seconds, frames = divmod(n, self.base)
        return hours, minutes, seconds, frames

    def __str__(self) -> str:
        h, m, s, f = self.fields()
        width = 3 if self.base > 100 else 2
        return f"{h:02d}:{m:02d}:{s:02d}{';' if self.drop else ':'}{f:0{width}d}"

    def bcd(self) -> int:
        """The label as SMPTE 12M packed BCD, ``0xHHMMSSFF`` (drop flag 0x40 in the frames
        byte): the DPX ``time code`` field and the first word of an OpenEXR ``timeCode``."""
        h, m, s, f = self.fields()
        bcd = lambda v: ((v // 10) << 4) | (v % 10)  # noqa: E731
        return (bcd(h) << 24) | (bcd(m) << 16) | (bcd(s) << 8) | bcd(f % 100) \
            | (0x40 if self.drop else 0)

    @classmethod
    def from_bcd(cls, value: int, rate: Fraction | float) -> "Timecode | None":
        """The label of a packed BCD word (see :meth:`bcd`) at ``rate``; None when the word
        is undefined (all ones) or not BCD."""
        if value == 0xFFFFFFFF:
            return None
        digits = []
        for shift, mask in ((24, 0x3F), (16, 0x7F), (8, 0x7F), (0, 0x3F)):
            byte = (value >> shift) & mask
            if byte & 0xF > 9:
                return None
            digits.append((byte >> 4) * 10 + (byte & 0xF))
        h, m, s, f = digits
        try:
            return parse_timecode(f"{h:02d}:{m:02d}:{s:02d}{';' if value & 0x40 else ':'}{f:02d}",
                                  rate)
        except ValueError:
            return None


def parse_timecode(text: str, rate: Fraction | float) -> Timecode:
    """A timecode label at a frame rate.

    Parameters
    ----------
    text : str
        ``HH:MM:SS:FF``, or ``HH:MM:SS;FF`` (also ``.`` or ``,``) for drop-frame.
    rate : Fraction or float
        The film's frame rate; drop-frame needs 29.97 or 59.94.

    Raises
    ------
    ValueError
        Not a timecode, a field out of range, drop-frame at another rate, or a label that
        drop-frame skips.
    """
    m = _PATTERN.match(text.strip())
    if not m:
        raise ValueError(f"not a timecode: {text!r} (use HH:MM:SS:FF, or HH:MM:SS;FF for "
                         "drop-frame)")
    h, mi, s, sep, f = m.groups()
    h, mi, s, f = int(h), int(mi), int(s), int(f)
    base, drop = timebase_of(rate), sep != ":"
    if drop and not _is_drop_rate(rate):
        raise ValueError(f"drop-frame timecode {text!r} needs 29.97 or 59.94 frames a second, "
                         f"not {float(rate):g}")
    if h > 23 or mi > 59 or s > 59 or f >= base:
        raise ValueError(f"timecode {text!r} out of range at {base} frames a second")
    dropped = base // 15 if drop else 0
    if drop and s == 0 and f < dropped and mi % 10:
        raise ValueError(f"timecode {text!r} does not exist in drop-frame counting")
    minutes = 60 * h + mi
    frames = (minutes * 60 + s) * base + f - dropped * (minutes - minutes // 10)
    return Timecode(frames, base, drop)
