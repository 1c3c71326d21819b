"""Colour from a colour copy, measured: `vidcolor video --colour-from` against bilinear chroma.

    python -m benchmarks.colour_copy CLIP [--frames N] [--start S] [--offset K] [--gap A:B]
                                          [--damage A:B]
                                          [--told-offset K'] [--cut A:B] [--insert A:N]
                                          [--framing F]
                                          [--scale 4] [--quality 30]
                                          [--model DIR]
                                          [--batch-size B]

Takes a *colour* clip as ground truth. The master is its lightness, a lossless grey clip
(:func:`benchmarks.keyframes.write_grey`, timestamps from 0). The copy is the same frames
shrunk to 1/``scale`` a side (area) and JPEG-compressed at ``quality`` one frame at a time
(OpenCV, 4:2:0), stored losslessly (FFV1, RGB); with ``--offset K`` it starts K frames
before the master (the copy is K frames late), with ``--gap A:B`` it lacks its frames A to
B-1, with ``--damage A:B`` its frames A to B-1 have their middle ninth torn out
(:func:`damaged`); ``--told-offset`` gives ``--colour-offset`` another value than the true
one (the drift search must find the rest); ``--cut A:B`` and ``--insert A:N`` make the copy
another cut of the film (:func:`edited`: a scene it lacks, a break it adds, the run told
nothing); ``--framing`` puts black bars on the copy (a letterbox or pillarbox) or on the
master (:func:`framed`). Then, over the master's frames against the truth (8-bit RGB, every
variant keeps the master's L):

- ``copy``: the real ``vidcolor video GREY -o OUT.mkv --codec ffv1 --colour-from COPY
  --colour-offset K`` path (in this process, through ``vidcolor.cli.main``);
- ``bilinear``: the baseline, the copy's a/b of the right frame (the nearest earlier one
  where the copy lacks it; told where each is, whatever the copy's offset or cut)
  bilinearly upsampled onto the master's L, stored exactly as the ``copy`` output is (the
  same writer and settings: FFV1, the pixel format, bit depth, matrix and range that
  ``vidcolor video --codec ffv1`` writes for this master; :func:`same_format` checks the
  two files' streams agree), so the two are compared like for like; with bars,
  the copy's picture is taken from where :func:`framed` put it and put where the master's
  is (grey in the master's bars);
- ``bilinear unstored``: the baseline's frames as computed, not stored (an extra column:
  what the output's storage costs);
- ``bilinear fitted``: the baseline's Lab brought to RGB as the output's finishing step does
  (:func:`vidcolor.color.gamut_rgb`: out-of-gamut chroma scaled into sRGB, where the others
  clip), then stored as the output is (an extra column: the whole output path);

- ``truth stored``: the colour clip itself stored so (the ceiling: what the storage alone
  costs);

reporting PSNR over the clip (from the mean squared error of all its frames) and the
temporal metrics of :mod:`benchmarks.keyframes`. The gain is ``copy`` - ``bilinear`` (both
stored); also above the storage's own error (:func:`above_storage_db`). The last line is
JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks.keyframes import decoded, measure, stored, write_grey
from benchmarks.temporal import read_frames
from vidcolor import color


def degrade(rgb: np.ndarray, scale: int, quality: int) -> np.ndarray:
    """A frame (uint8 RGB) shrunk to 1/``scale`` a side and JPEG-compressed at ``quality``."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, w // scale), max(1, h // scale)),
                       interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].copy()


#: How the copy and the master may be framed (:func:`framed`).
FRAMINGS = ("same", "copy-letterbox", "copy-pillarbox", "master-pillarbox")


def framed(rgb: np.ndarray, framing: str, scale: int):
    """A true frame (uint8 RGB, h x w) framed with black bars as ``framing`` says.

    ``copy-letterbox``: the copy's frame 4:3 (as tall as the master's) with the whole picture
    letterboxed in it; ``copy-pillarbox``: the copy's frame wider by a quarter, bars either
    side; ``master-pillarbox``: the master (and so the truth) so, the copy without bars. Bars
    are whole multiples of ``scale`` pixels.

    Returns
    -------
    truth, copy : ndarray of uint8
        The master's true colour frame and the copy's frame before it is worn.
    boxes : (rows, cols), (rows, cols)
        Where the picture is in the worn copy (1/``scale`` of ``copy``'s size) and in the
        master: the baseline's geometry, known, not found.
    """
    h, w = rgb.shape[:2]
    whole = (slice(None), slice(None))
    if framing == "same":
        return rgb, rgb, (whole, whole)
    if framing == "copy-letterbox":
        width = h * 4 // 3 // scale * scale
        bar = int(round((h - width * h / w) / (2 * scale))) * scale
        copy = np.zeros((h, width, 3), np.uint8)
        copy[bar:h - bar] = cv2.resize(rgb, (width, h - 2 * bar), interpolation=cv2.INTER_AREA)
        return rgb, copy, ((slice(bar // scale, (h - bar) // scale), slice(None)), whole)
    bar = w // 8 // scale * scale
    boxed = np.pad(rgb, ((0, 0), (bar, bar), (0, 0)))
    if framing == "copy-pillarbox":
        cols = slice(bar // scale, int(round((bar + w) / scale)))
        return rgb, boxed, ((slice(None), cols), whole)
    return boxed, rgb, (whole, (slice(None), slice(bar, bar + w)))


def edited(frames: int, cut: tuple[int, int] | None = None,
           insert: tuple[int, int] | None = None) -> list[int]:
    """The copy's frames in order, as another cut of the film has them: indices into the
    clip's ``frames``, without frames ``cut`` = (A, B) A to B-1 (a scene a TV version lacks:
    the rest comes earlier), and with ``insert`` = (A, N) N frames of another picture before
    frame A (a break: the rest comes later), given as -1, -2, ... -N."""
    order = list(range(frames))
    if cut:
        order = order[:cut[0]] + order[cut[1]:]
    if insert:
        at = order.index(insert[0])
        order = order[:at] + [-1 - m for m in range(insert[1])] + order[at:]
    return order


def damaged(rgb: np.ndarray, seed: int) -> np.ndarray:
    """A copy frame (uint8 RGB) with its middle third (each way) torn out: a flat patch of a
    random colour, as a tape dropout or a burnt print leaves."""
    out = rgb.copy()
    h, w = out.shape[:2]
    out[h // 3:2 * h // 3, w // 3:2 * w // 3] = np.random.default_rng(seed).integers(0, 256, 3)
    return out


def write_copy(path: Path, frames: list[np.ndarray], kept: list[int], rate: float) -> Path:
    """The copy's frames ``kept`` (their numbers are their pts), lossless RGB FFV1."""
    with av.open(os.fspath(path), "w") as out:
        s = out.add_stream("ffv1", rate=int(round(rate)))
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "bgr0"
        for k in kept:
            f = av.VideoFrame.from_ndarray(frames[k], "rgb24").reformat(format="bgr0")
            f.pts = k
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


def bilinear(grey: list[np.ndarray], copy: dict[int, np.ndarray], to_rgb=color.lab_to_rgb,
             boxes=None):
    """The baseline (a generator of uint8 RGB): master frame i gets the a/b of ``copy[i]``,
    its copy frame (the nearest earlier one the copy has), bilinearly upsampled, with its own
    L, brought to RGB by ``to_rgb(L, ab)``; with ``boxes`` (:func:`framed`'s), the copy's
    picture onto the master's, grey in the master's bars."""
    (copy_rows, copy_cols), (rows, cols) = boxes or ((slice(None),) * 2,) * 2
    ab = None
    for i, g in enumerate(grey):
        L = color.rgb_to_l(g)
        if i in copy:
            ab = color.rgb_to_lab(copy[i])[1][copy_rows, copy_cols]
        if ab is None:
            yield g
            continue
        up = np.zeros(L.shape + (2,), np.float32)
        picture = up[rows, cols]
        picture[:] = cv2.resize(ab, picture.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        yield to_rgb(L, up)


def stream_format(path: Path) -> dict:
    """The video stream's codec, pixel format, bit depth, size, matrix and range."""
    with av.open(os.fspath(path)) as f:
        s = f.streams.video[0]
        cc = s.codec_context
        return {"codec": cc.name, "pix_fmt": cc.pix_fmt, "width": cc.width,
                "height": cc.height, "bits": max(c.bits for c in cc.format.components),
                "colorspace": int(cc.colorspace), "color_range": int(cc.color_range)}


def same_format(a: Path, b: Path) -> dict:
    """The stream format both files share (:func:`stream_format`); raises if they differ."""
    fa, fb = stream_format(a), stream_format(b)
    if fa != fb:
        raise SystemExit(f"{a.name} and {b.name} are stored differently: {fa} against {fb}")
    return fa


def above_storage_db(mse: float, mse_baseline: float, mse_storage: float) -> float:
    """How far below the baseline's an output's error is, in dB, once the error both share
    (the output's storage: the truth itself stored so has ``mse_storage``) is taken out of
    each: 10 log10 of their errors above it. On a clip whose colour the baseline gets nearly
    right (a grey sky) the plain PSNR difference is capped by the shared error; this is not.
    """
    return float(10 * np.log10(max(mse_baseline - mse_storage, 1e-9)
                               / max(mse - mse_storage, 1e-9)))


def run_vidcolor(grey: Path, copy: Path, out: Path, offset: int, args) -> float:
    from vidcolor import cli

    argv = ["video", str(grey), "-o", str(out), "--codec", "ffv1", "--quiet", "--overwrite",
            "--colour-from", str(copy), "--colour-offset", str(offset),
            "--batch-size", str(args.batch_size)]
    if args.model:
        argv += ["--model", args.model]
    t = time.perf_counter()
    code = cli.main(argv)
    if code != 0:
        raise SystemExit(f"vidcolor video failed ({code})")
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.colour_copy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path, help="a colour clip (the ground truth)")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--start", type=float, default=0.0, help="seconds")
    p.add_argument("--offset", type=int, default=0, help="the copy is this many frames late")
    p.add_argument("--told-offset", type=int,
                   help="the --colour-offset given (default: --offset); another value leaves "
                   "the difference to the drift search")
    p.add_argument("--gap", help="A:B, copy frames A to B-1 missing")
    p.add_argument("--damage", help="A:B, copy frames A to B-1 damaged (:func:`damaged`)")
    p.add_argument("--cut", help="A:B, the copy lacks the master's frames A to B-1 and closes "
                   "up (a scene a TV version lacks; told nothing, the run must find the rest)")
    p.add_argument("--insert", help="A:N, N frames of another picture in the copy before the "
                   "master's frame A (a break; the rest comes N frames later)")
    p.add_argument("--framing", choices=FRAMINGS, default="same",
                   help="black bars on the copy or the master (:func:`framed`)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--quality", type=int, default=30)
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args(argv)

    info, frames = read_frames(args.clip, args.start, args.frames + args.offset)
    rate = float(info.rate)
    pairs = [framed(f, args.framing, args.scale) for f in frames]
    boxes = pairs[0][2]
    truth = [t for t, _, _ in pairs[args.offset:]]
    copy_frames = [degrade(c, args.scale, args.quality) for _, c, _ in pairs]
    for k in range(*map(int, args.damage.split(":"))) if args.damage else ():
        copy_frames[k] = damaged(copy_frames[k], k)
    cut, insert = (tuple(int(v) + args.offset * (i == 0) for i, v in enumerate(x.split(":")))
                   if x else None for x in (args.cut, args.insert))
    order = edited(len(frames), cut, insert)
    # Another picture for a break: the window's own frames turned upside down.
    copy_frames = [copy_frames[e] if e >= 0 else copy_frames[(-1 - e) % len(frames)][::-1, ::-1]
                   for e in order]
    gap = range(*map(int, args.gap.split(":"))) if args.gap else range(0)
    kept = [k for k in range(len(order)) if k not in gap]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        grey = write_grey(tmp / "grey.mkv", truth, rate)
        copy = write_copy(tmp / "copy.mkv", copy_frames, kept, rate)
        told = args.offset if args.told_offset is None else args.told_offset
        seconds = run_vidcolor(grey, copy, tmp / "out.mkv", told, args)
        grey_frames = decoded(grey)
        # The baseline is told where each master frame's copy frame is.
        by_number = dict(zip(kept, decoded(copy)))
        place = {e: k for k, e in enumerate(order) if e >= 0}
        by_master = {i: by_number[place[i + args.offset]] for i in range(len(truth))
                     if place.get(i + args.offset) in by_number}
        baseline = stored(tmp / "bil.mkv", bilinear(grey_frames, by_master, boxes=boxes),
                          grey)
        storage = same_format(tmp / "out.mkv", tmp / "bil.mkv")
        fitted = stored(tmp / "fit.mkv", bilinear(grey_frames, by_master, color.gamut_rgb,
                                                  boxes), grey)
        ceiling = stored(tmp / "truth.mkv", iter(truth), grey)
        variants = {"copy": decoded(tmp / "out.mkv"), "bilinear": iter(baseline),
                    "bilinear unstored": bilinear(grey_frames, by_master, boxes=boxes),
                    "bilinear fitted": iter(fitted), "truth stored": iter(ceiling)}
        result = measure(truth, variants)
    gain = result["copy"]["psnr"] - result["bilinear"]["psnr"]
    gain_unstored = result["copy"]["psnr"] - result["bilinear unstored"]["psnr"]
    gain_fitted = result["copy"]["psnr"] - result["bilinear fitted"]["psnr"]
    floor = result["truth stored"]["mse"]
    gain_above = above_storage_db(result["copy"]["mse"], result["bilinear"]["mse"], floor)
    summary = {"clip": str(args.clip), "start": args.start, "frames": len(truth),
               "offset": args.offset, "told_offset": told, "gap": args.gap,
               "damage": args.damage, "cut": args.cut, "insert": args.insert,
               "framing": args.framing, "scale": args.scale,
               "quality": args.quality, "seconds": seconds, "variants": result,
               "storage": storage, "copy_minus_bilinear_db": gain,
               "copy_minus_bilinear_unstored_db": gain_unstored,
               "copy_minus_bilinear_fitted_db": gain_fitted,
               "copy_minus_bilinear_above_storage_db": gain_above}
    print(f"{args.clip.name} from {args.start:g} s, {len(truth)} frames, copy 1/{args.scale} "
          f"JPEG q{args.quality}, offset {args.offset} (told {told}), gap {args.gap or 'none'}, "
          f"damage {args.damage or 'none'}, cut {args.cut or 'none'}, "
          f"insert {args.insert or 'none'}, framing {args.framing}; "
          f"{seconds:.1f} s; both stored as {storage}")
    print(f"{'variant':<18} {'PSNR':>7} {'warp err':>10} {'a/b warp':>9}")
    for name, m in result.items():
        print(f"{name:<18} {m['psnr']:>7.2f} {m['warp_error']:>10.6f} "
              f"{m['warp_error_ab']:>9.3f}")
    print(f"copy - bilinear (both stored): {gain:+.2f} dB; "
          f"against bilinear unstored: {gain_unstored:+.2f} dB; "
          f"against bilinear fitted and stored: {gain_fitted:+.2f} dB; "
          f"above the storage's own error: {gain_above:+.2f} dB")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
