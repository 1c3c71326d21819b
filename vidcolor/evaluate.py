"""Measure a colorization model on a folder of colour photos: the work of ``vidcolor eval``.

Each colour picture is reduced to its lightness (a = b = 0), colorized from that alone, and
compared with the original: PSNR on 8-bit RGB at native size, colourfulness (see
:mod:`vidcolor.metrics`), and the same PSNR for the grey picture itself, the baseline any
colorization has to beat.

With hints (``hint_counts``), a simulated user (Zhang et al. 2017) also gives each picture N
hints from its true colours (:func:`vidcolor.hints.sample_hints`): the result with them (what
``vidcolor image --hints`` gives) is measured next to two baselines that need no learning, the automatic result shifted by the mean
hint-minus-prediction a/b (global) and by that difference interpolated with Gaussian weights
(local, :func:`vidcolor.hints.local_shift`).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from vidcolor import color
from vidcolor import hints as hints_module
from vidcolor.colorize import colorize_image
from vidcolor.errors import VidcolorError
from vidcolor.imageio import read_image, writable_suffix, write_image
from vidcolor.metrics import colourfulness, psnr
from vidcolor.models.protocol import ColorModel
from vidcolor.models.runtimes import resolve_model
from vidcolor.options import ImageOptions
from vidcolor.outputs import InputSet, check_output
from vidcolor.picture_files import find_pictures
from vidcolor.provenance import provenance_text
from vidcolor.progress import Progress, no_progress

__all__ = ["ImageScore", "evaluate_folder", "score_image", "score_hints", "format_table",
           "format_hints_table", "summary_json", "contact_sheet", "is_colour", "hint_rng"]

_SHEET_ROW_HEIGHT = 128
_SHEET_GAP = 4
_SHEET_HEADER = 24
_SHEET_BACKGROUND = 32


@dataclass
class ImageScore:
    """The numbers of one picture."""

    name: str
    set: str
    psnr: float
    grey_psnr: float
    colourfulness: float
    truth_colourfulness: float


def _as_8bit(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    return ((rgb.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def is_colour(rgb: np.ndarray) -> bool:
    """Whether an RGB picture has any chroma (grey files decode to three equal channels).

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3)
    """
    return bool(np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2]))


def score_image(truth: np.ndarray, model: ColorModel, render_size: int | None = None
                ) -> tuple[dict, np.ndarray, np.ndarray]:
    """Colorize the lightness of a colour picture and compare with the picture.

    Parameters
    ----------
    truth : ndarray of uint8, shape (H, W, 3)
    model : ColorModel
    render_size : int, optional
        Network resolution; by default the model's.

    Returns
    -------
    numbers : dict
        ``psnr``, ``grey_psnr`` (dB), ``colourfulness``, ``truth_colourfulness``.
    grey, ours : ndarray of uint8, shape (H, W, 3)
        The grey input and the colorized picture.
    """
    grey = color.l_to_grey_rgb(color.rgb_to_l(truth))
    # What `vidcolor image` gives for the grey picture (only L is used), in one pass.
    ours = colorize_image(truth, model, ImageOptions(render_size=render_size, tile=0))
    numbers = {
        "psnr": psnr(ours, truth),
        "grey_psnr": psnr(grey, truth),
        "colourfulness": colourfulness(ours),
        "truth_colourfulness": colourfulness(truth),
    }
    return numbers, grey, ours


def hint_rng(seed: int, name: str, count: int) -> np.random.Generator:
    """The simulated user's random numbers for one picture and hint count: the same for a
    picture whatever else is measured with it, or in which order."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), count])


def _scores(rgb: np.ndarray, truth: np.ndarray, prefix: str) -> dict:
    return {f"{prefix}psnr": psnr(rgb, truth), f"{prefix}colourfulness": colourfulness(rgb)}


def score_hints(truth: np.ndarray, ours: np.ndarray, model: ColorModel, counts, seed: int,
                name: str, render_size: int | None = None) -> list[dict]:
    """Measure a picture with simulated hints, for each hint count.

    Parameters
    ----------
    truth : ndarray of uint8, shape (H, W, 3)
    ours : ndarray of uint8, shape (H, W, 3)
        The automatic result (no hints), which the baselines shift.
    model : ColorModel
        Its result with hints is what ``vidcolor image --hints`` gives: a model with
        ``uses_hints`` takes them as input, any other is corrected by them
        (:mod:`vidcolor.propagate`).
    counts : sequence of int
        Hint counts (points per picture).
    seed : int
    name : str
        The picture's name (seeds its hints, see :func:`hint_rng`).
    render_size : int, optional

    Returns
    -------
    list of dict, one per count
        ``hints`` (the count), ``psnr`` / ``colourfulness`` with the hints, ``global_psnr``, ``global_colourfulness``, ``local_psnr``,
        ``local_colourfulness``.
    """
    L, ab_true = color.rgb_to_lab(truth)
    ab_pred = color.rgb_to_lab(ours)[1]
    rows = []
    for count in counts:
        hints = hints_module.sample_hints(ab_true, count, hint_rng(seed, name, count))
        options = ImageOptions(render_size=render_size, tile=0)
        row = {"hints": count, **_scores(colorize_image(truth, model, options, hints=hints), truth, "")}
        for kind, shift in (("global", hints_module.global_shift), ("local", hints_module.local_shift)):
            row |= _scores(color.gamut_rgb(L, shift(ab_pred, hints), np.uint8), truth, f"{kind}_")
        rows.append(row)
    return rows


def _hint_summary(rows: list[dict]) -> list[dict]:
    """Means over pictures of :func:`score_hints` rows, per hint count."""
    out = []
    for count in dict.fromkeys(r["hints"] for r in rows):
        mine = [r for r in rows if r["hints"] == count]
        mean = {k: (None if mine[0][k] is None else float(np.mean([r[k] for r in mine])))
                for k in mine[0] if k not in ("hints", "name")}
        out.append({"hints": count, "count": len(mine), **mean})
    return out


def _summary(scores: list[ImageScore]) -> dict:
    """Means over pictures; the colourfulness gap is that of the means (as in DDColor)."""
    if not scores:
        return {"count": 0}
    mean = {k: float(np.mean([getattr(s, k) for s in scores]))
            for k in ("psnr", "grey_psnr", "colourfulness", "truth_colourfulness")}
    return {
        "psnr": mean["psnr"],
        "colourfulness": mean["colourfulness"],
        "delta_colourfulness": abs(mean["colourfulness"] - mean["truth_colourfulness"]),
        "grey_psnr": mean["grey_psnr"],
        "truth_colourfulness": mean["truth_colourfulness"],
        "count": len(scores),
    }


def _thumbnail(rgb: np.ndarray, height: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    width = max(1, round(w * height / h))
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def contact_sheet(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                  height: int = _SHEET_ROW_HEIGHT) -> np.ndarray:
    """Lay out (grey, ours, truth) triples as rows of thumbnails under a labelled header.

    Parameters
    ----------
    rows : list of (grey, ours, truth), each ndarray of uint8, shape (H, W, 3)
    height : int
        Thumbnail height in pixels; widths keep each picture's aspect ratio.

    Returns
    -------
    ndarray of uint8, shape (sheet height, sheet width, 3)
    """
    thumbs = [[_thumbnail(im, height) for im in row] for row in rows]
    col_w = [max(t[c].shape[1] for t in thumbs) for c in range(3)]
    width = sum(col_w) + _SHEET_GAP * 4
    total = _SHEET_HEADER + len(thumbs) * (height + _SHEET_GAP) + _SHEET_GAP
    sheet = np.full((total, width, 3), _SHEET_BACKGROUND, np.uint8)
    x0 = np.cumsum([_SHEET_GAP] + [w + _SHEET_GAP for w in col_w[:-1]])
    for x, label in zip(x0, ("grey", "ours", "truth")):
        cv2.putText(sheet, label, (int(x) + 2, _SHEET_HEADER - 7), cv2.FONT_HERSHEY_SIMPLEX,
                    0.55, (230, 230, 230), 1, cv2.LINE_AA)
    for r, row in enumerate(thumbs):
        y = _SHEET_HEADER + r * (height + _SHEET_GAP)
        for x, t in zip(x0, row):
            sheet[y:y + height, int(x):int(x) + t.shape[1]] = t
    return sheet


def _pictures(folder: Path) -> list[tuple[str, Path]]:
    """(set name, path) of the pictures in ``folder``: its own pictures form the set named after
    it, each subfolder (with everything below it) a set of its own."""
    found = []
    for path in find_pictures(folder):
        rel = path.relative_to(folder)
        name = rel.parts[0] if len(rel.parts) > 1 else folder.resolve().name
        found.append((name, path))
    return found


def _colour_truth(path: Path) -> tuple[np.ndarray | None, str | None]:
    """A picture's 8-bit RGB (H, W, 3), or None and why it cannot be measured."""
    try:
        truth = _as_8bit(read_image(path).rgb)
    except VidcolorError as e:
        return None, str(e).removeprefix(f"{path}: ")  # the name is given apart
    return (truth, None) if is_colour(truth) else (None, "grey")


def _check_sheet(sheet: Path, pictures: list[Path]) -> None:
    """Refuse a contact sheet path before the work: one that cannot be written, or that is one
    of the pictures measured (replacing it would destroy an input)."""
    if not writable_suffix(sheet.suffix):
        raise VidcolorError(f"{sheet}: cannot write a contact sheet there; use .png, .tif, "
                            ".jpg or .webp")
    check_output(sheet, InputSet(pictures))


def evaluate_folder(folder, model: ColorModel | None = None,
                    render_size: int | None = None, limit: int | None = None, sheet=None,
                    progress: Progress | None = None, hint_counts=None, seed: int = 0,
                    only=None) -> dict:
    """Measure a model on the colour pictures of a folder.

    Parameters
    ----------
    folder : str or Path
    model : ColorModel or callable, optional
        A model, or a function returning one, called only once the folder is known to hold
        pictures (:func:`vidcolor.models.runtimes.resolve_model`); default: the shipped model.
    render_size : int, optional
        Network resolution; by default the model's.
    limit : int, optional
        Measure only the first ``limit`` colour pictures (sorted by path).
    sheet : str or Path, optional
        Write a contact sheet PNG (grey | ours | truth) there, replacing any earlier one.
    progress : Progress, optional
        Told the pictures looked at so far (measured or skipped), out of all found.
    hint_counts : sequence of int, optional
        Also measure with that many simulated hints per picture (see :func:`score_hints`).
    seed : int
        Seeds the simulated hints.
    only : collection of str or Path, optional
        Measure only these pictures of the folder (e.g. photos held out of training).

    Returns
    -------
    dict
        ``overall``: psnr, colourfulness, delta_colourfulness, grey_psnr,
        truth_colourfulness, count; ``sets``: the same per set (with ``set``); ``images``:
        per-picture numbers; ``skipped``: pictures that are grey or unreadable, with why;
        ``model``: the model's name; with ``hint_counts``, ``hints``: per count the means of
        :func:`score_hints`' numbers, and ``hint_images``: each picture's.

    Raises
    ------
    VidcolorError
        No such folder, no colour pictures in it, no such model, a render size out of bounds,
        or a sheet that could not be written or would replace one of the pictures; all but
        the lack of colour pictures before any work.
    """
    progress = progress or no_progress
    folder = Path(folder)
    ImageOptions(render_size=render_size)  # a bad value is refused now, not after the model
    if not folder.is_dir():
        raise VidcolorError(f"{folder}: no such folder")
    pictures = _pictures(folder)
    if only is not None:
        wanted = {Path(p).resolve() for p in only}
        pictures = [(name, path) for name, path in pictures if path.resolve() in wanted]
    if not pictures:
        raise VidcolorError(f"{folder}: no pictures in this folder")
    if sheet is not None:
        _check_sheet(Path(sheet), [path for _, path in pictures])
    model = resolve_model(model)

    scores, skipped, rows, hint_rows = [], [], [], []
    progress(0, len(pictures))
    for done, (set_name, path) in enumerate(pictures, 1):
        if limit is not None and len(scores) >= limit:
            break
        truth, why = _colour_truth(path)
        if truth is None:
            skipped.append({"name": str(path), "why": why})
        else:
            numbers, grey, ours = score_image(truth, model, render_size)
            name = str(path.relative_to(folder))
            scores.append(ImageScore(name, set_name, **numbers))
            if hint_counts:
                hint_rows += [{"name": name, **r} for r in
                              score_hints(truth, ours, model, hint_counts, seed, name, render_size)]
            if sheet is not None:
                rows.append((grey, ours, truth))
        progress(done, len(pictures))
    if not scores:
        raise VidcolorError(f"{folder}: no colour pictures in this folder")

    if sheet is not None:
        write_image(sheet, contact_sheet(rows), mark=provenance_text(model.name),
                    overwrite=True)
    sets = []
    for name in dict.fromkeys(s.set for s in scores):  # first-seen order
        sets.append({"set": name, **_summary([s for s in scores if s.set == name])})
    result = {
        "overall": _summary(scores),
        "sets": sets,
        "images": [asdict(s) for s in scores],
        "skipped": skipped,
        "model": model.name,
    }
    if hint_counts:
        result |= {"hints": _hint_summary(hint_rows), "hint_images": hint_rows, "seed": seed}
    return result


def format_table(result: dict) -> str:
    """The per-set table of :func:`evaluate_folder`'s result, with an overall row when there is
    more than one set."""
    header = f"{'set':<20} {'count':>5} {'PSNR dB':>8} {'grey dB':>8} {'colourf.':>8} " \
             f"{'truth':>6} {'|dCF|':>6}"
    lines = [header, "-" * len(header)]
    rows = list(result["sets"])
    if len(rows) > 1:
        rows.append({"set": "all", **result["overall"]})
    for r in rows:
        lines.append(
            f"{r['set'][:20]:<20} {r['count']:>5} {r['psnr']:>8.2f} {r['grey_psnr']:>8.2f} "
            f"{r['colourfulness']:>8.2f} {r['truth_colourfulness']:>6.2f} "
            f"{r['delta_colourfulness']:>6.2f}"
        )
    return "\n".join(lines)


def format_hints_table(result: dict) -> str:
    """The hint curve of :func:`evaluate_folder`'s result: per hint count, the PSNR and
    colourfulness with the hints and the baselines'."""
    header = f"{'hints':>5} {'count':>5} {'ours dB':>8} {'colourf.':>8} {'global dB':>9} " \
             f"{'colourf.':>8} {'local dB':>8} {'colourf.':>8}"
    lines = [header, "-" * len(header)]

    def cell(value, width):
        return f"{value:>{width}.2f}"

    for r in result["hints"]:
        lines.append(f"{r['hints']:>5} {r['count']:>5} {cell(r['psnr'], 8)} "
                     f"{cell(r['colourfulness'], 8)} {cell(r['global_psnr'], 9)} "
                     f"{cell(r['global_colourfulness'], 8)} {cell(r['local_psnr'], 8)} "
                     f"{cell(r['local_colourfulness'], 8)}")
    return "\n".join(lines)


def _rounded(row: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}


def summary_json(result: dict) -> str:
    """One line of JSON: the overall numbers, the model and the count (and the hint curve)."""
    extra = {"hints": [_rounded(r) for r in result["hints"]]} if "hints" in result else {}
    return json.dumps({**_rounded(result["overall"]), "model": result["model"], **extra},
                      sort_keys=False)
