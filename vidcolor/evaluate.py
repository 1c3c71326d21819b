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

A run takes an :class:`EvalRequest` and gives an :class:`EvalReport` (:func:`evaluate`): the
pictures are planned and every path checked before the model is loaded
(:func:`plan_pictures`), then scored one at a time; the means are worked out from the report,
and :meth:`EvalReport.to_dict` gives them as plain values for the tables and the JSON line.
:func:`evaluate_folder` is the same run with keywords, giving that dict.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vidcolor import color
from vidcolor import hints as hints_module
from vidcolor.colorize import colorize_image
from vidcolor.errors import VidcolorError
from vidcolor.imageio import read_image
from vidcolor.metrics import colourfulness, psnr
from vidcolor.models.protocol import ColorModel
from vidcolor.models.runtimes import resolve_model
from vidcolor.options import ImageOptions
from vidcolor.outputs import InputSet, check_output
from vidcolor.picture_files import find_pictures
from vidcolor.picture_write import writable_suffix, write_image
from vidcolor.provenance import provenance_text
from vidcolor.progress import Progress, no_progress

__all__ = ["EvalRequest", "EvalReport", "ImageScore", "evaluate", "evaluate_folder",
           "plan_pictures", "score_image", "score_hints", "format_table", "format_hints_table",
           "summary_json", "contact_sheet", "is_colour", "hint_rng"]

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


@dataclass(frozen=True)
class EvalRequest:
    """What one ``vidcolor eval`` run measures, checked once when made.

    Attributes
    ----------
    folder : Path
        Its own pictures form the set named after it, each subfolder a set of its own.
    render_size : int or None
        Network resolution; by default the model's.
    limit : int or None
        Measure only the first ``limit`` colour pictures (sorted by path).
    sheet : Path or None
        Write a contact sheet (grey | ours | truth) there, replacing any earlier one.
    hint_counts : tuple of int
        Also measure with that many simulated hints per picture (see :func:`score_hints`);
        empty: no hints.
    seed : int
        Seeds the simulated hints.
    only : tuple of Path, or None
        Measure only these pictures of the folder (e.g. photos held out of training).

    Raises
    ------
    VidcolorError
        A render size out of bounds: refused now, not after the model's load.
    """

    folder: Path
    render_size: int | None = None
    limit: int | None = None
    sheet: Path | None = None
    hint_counts: tuple[int, ...] = ()
    seed: int = 0
    only: tuple[Path, ...] | None = None

    def __post_init__(self):
        ImageOptions(render_size=self.render_size)
        # Callers pass strings and lists (the CLI, tests): kept as paths and tuples, so the
        # value stays frozen.
        object.__setattr__(self, "folder", Path(self.folder))
        object.__setattr__(self, "sheet", None if self.sheet is None else Path(self.sheet))
        object.__setattr__(self, "hint_counts", tuple(self.hint_counts or ()))
        if self.only is not None:
            object.__setattr__(self, "only", tuple(Path(p) for p in self.only))


@dataclass
class EvalReport:
    """What an :func:`evaluate` run measured; the means are worked out from it when asked.

    Attributes
    ----------
    model : str
        The model's name.
    images : list of ImageScore
        Per-picture numbers, in the order measured.
    skipped : list of (Path, str)
        Pictures that are grey or unreadable, with why.
    hint_counts : tuple of int
        The simulated hint counts measured; empty: none.
    seed : int
        The simulated hints' seed.
    hint_images : list of dict
        Each picture's :func:`score_hints` rows, with its ``name``.
    """

    model: str
    images: list[ImageScore] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    hint_counts: tuple[int, ...] = ()
    seed: int = 0
    hint_images: list[dict] = field(default_factory=list)

    @property
    def overall(self) -> dict:
        """Means over every picture measured; the colourfulness gap is that of the means."""
        return _summary(self.images)

    @property
    def sets(self) -> list[dict]:
        """The same means per set (with ``set``), in the order the sets were first seen."""
        names = dict.fromkeys(score.set for score in self.images)
        return [{"set": name, **_summary([s for s in self.images if s.set == name])}
                for name in names]

    @property
    def hints(self) -> list[dict]:
        """Per hint count, the means of :func:`score_hints`' numbers."""
        return _hint_summary(self.hint_images)

    def to_dict(self) -> dict:
        """The report as plain values (what :func:`format_table` and :func:`summary_json` read).

        Returns
        -------
        dict
            ``overall``: psnr, colourfulness, delta_colourfulness, grey_psnr,
            truth_colourfulness, count; ``sets``: the same per set (with ``set``); ``images``:
            per-picture numbers; ``skipped``: ``name`` and ``why`` of each picture skipped;
            ``model``; with hint counts, ``hints``, ``hint_images`` and ``seed``.
        """
        result = {
            "overall": self.overall,
            "sets": self.sets,
            "images": [asdict(score) for score in self.images],
            "skipped": [{"name": str(path), "why": why} for path, why in self.skipped],
            "model": self.model,
        }
        if self.hint_counts:
            result |= {"hints": self.hints, "hint_images": list(self.hint_images),
                       "seed": self.seed}
        return result


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


def plan_pictures(request: EvalRequest) -> list[tuple[str, Path]]:
    """The pictures a request measures, checked before any model is loaded.

    Parameters
    ----------
    request : EvalRequest

    Returns
    -------
    list of (str, Path)
        Each picture's set name and path, sorted by path (``request.only`` applied).

    Raises
    ------
    VidcolorError
        No such folder, no pictures in it (or none of those listed), or a sheet that cannot be
        written or would replace one of the pictures.
    """
    if not request.folder.is_dir():
        raise VidcolorError(f"{request.folder}: no such folder")
    pictures = _pictures(request.folder)
    if request.only is not None:
        # Resolved on both sides: a list names pictures however it likes (e.g. holdout.txt).
        wanted = {path.resolve() for path in request.only}
        pictures = [(name, path) for name, path in pictures if path.resolve() in wanted]
    if not pictures:
        raise VidcolorError(f"{request.folder}: no pictures in this folder")
    if request.sheet is not None:
        _check_sheet(request.sheet, [path for _, path in pictures])
    return pictures


def _measure_pictures(pictures: list[tuple[str, Path]], request: EvalRequest, model: ColorModel,
                      progress: Progress) -> tuple[EvalReport, list[tuple]]:
    """Score each picture in turn (grey and unreadable ones skipped, with why) until
    ``request.limit`` are measured; also the contact sheet's rows when a sheet is asked for."""
    report = EvalReport(model.name, hint_counts=request.hint_counts, seed=request.seed)
    sheet_rows = []
    progress(0, len(pictures))
    for done, (set_name, path) in enumerate(pictures, 1):
        if request.limit is not None and len(report.images) >= request.limit:
            break
        truth, why = _colour_truth(path)
        if truth is None:
            report.skipped.append((path, why))
        else:
            name = str(path.relative_to(request.folder))
            numbers, grey, ours = score_image(truth, model, request.render_size)
            report.images.append(ImageScore(name, set_name, **numbers))
            if request.hint_counts:
                report.hint_images += [{"name": name, **row} for row in score_hints(
                    truth, ours, model, request.hint_counts, request.seed, name,
                    request.render_size)]
            if request.sheet is not None:  # kept only then: three full pictures each
                sheet_rows.append((grey, ours, truth))
        progress(done, len(pictures))
    return report, sheet_rows


def evaluate(request: EvalRequest, model: ColorModel | None = None,
             progress: Progress | None = None) -> EvalReport:
    """Measure a model on the colour pictures of a folder: the work of ``vidcolor eval``.

    Parameters
    ----------
    request : EvalRequest
        The folder, which of its pictures, the render size, hints and contact sheet.
    model : ColorModel or callable, optional
        A model, or a function returning one, called only once the folder is known to hold
        pictures (:func:`vidcolor.models.runtimes.resolve_model`); default: the shipped model.
    progress : Progress, optional
        Told the pictures looked at so far (measured or skipped), out of all found.

    Returns
    -------
    EvalReport

    Raises
    ------
    VidcolorError
        No such folder, no colour pictures in it, no such model, or a sheet that could not be
        written or would replace one of the pictures; all but the lack of colour pictures
        before any work.
    """
    pictures = plan_pictures(request)
    model = resolve_model(model)
    report, sheet_rows = _measure_pictures(pictures, request, model, progress or no_progress)
    if not report.images:
        raise VidcolorError(f"{request.folder}: no colour pictures in this folder")
    if request.sheet is not None:  # a report, not a user's picture: an earlier one is replaced
        write_image(request.sheet, contact_sheet(sheet_rows), mark=provenance_text(model.name),
                    overwrite=True)
    return report


def evaluate_folder(folder, model: ColorModel | None = None, *, progress: Progress | None = None,
                    **request) -> dict:
    """Measure a model on the colour pictures of a folder, as a dict of numbers.

    Parameters
    ----------
    folder : str or Path
    model : ColorModel or callable, optional
        See :func:`evaluate`.
    progress : Progress, optional
        See :func:`evaluate`.
    **request
        The other fields of :class:`EvalRequest`: ``render_size``, ``limit``, ``sheet``,
        ``hint_counts``, ``seed``, ``only``.

    Returns
    -------
    dict
        :meth:`EvalReport.to_dict`.

    Raises
    ------
    VidcolorError
        As :class:`EvalRequest` and :func:`evaluate`.
    """
    return evaluate(EvalRequest(folder, **request), model, progress).to_dict()


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
