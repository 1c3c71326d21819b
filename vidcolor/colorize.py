"""One image: L -> a/b at render size -> L-guided upsampling -> RGB.

The network only ever sees a render-size copy of the lightness; the full-resolution output keeps
the input's own L, and only the chroma is upsampled, guided by that L so colour does not bleed
across strong edges. Chroma that sRGB cannot show at a pixel's lightness is reduced rather than
clipped, so the output's L really is the input's. Full resolution is handled in strips of rows,
which bounds memory for large scans; large images are colorized in tiles that share the whole
image's context (:mod:`vidcolor.tiling`), so their chroma has more than a render's detail.

:func:`colorize_files` is ``vidcolor image``: files and folders in, marked files out (reading
and writing are in :mod:`vidcolor.imageio`).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import cv2
import numba
import numpy as np

from vidcolor import color
from vidcolor.errors import VidcolorError

# Full-resolution rows handled at a time by colorize_image.
_STRIP_ROWS = 256


def render_shape(height: int, width: int, render_size: int, multiple: int = 32) -> tuple[int, int]:
    """The network resolution for an image: about ``render_size**2`` pixels, same aspect ratio.

    Parameters
    ----------
    height, width : int
        The image's size.
    render_size : int
        The side of the square whose area the render should have.
    multiple : int
        Both sides are rounded to a multiple of this (at least one multiple).

    Returns
    -------
    (rh, rw) : tuple of int
    """
    scale = render_size / np.sqrt(height * width)
    rh = max(multiple, int(round(height * scale / multiple)) * multiple)
    rw = max(multiple, int(round(width * scale / multiple)) * multiple)
    return rh, rw


def resize_l(L: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize lightness to ``shape`` (area-averaged when shrinking).

    Parameters
    ----------
    L : ndarray of float32, shape (H, W), in [0, 100]
    shape : (h, w)

    Returns
    -------
    ndarray of float32, shape (h, w)
    """
    h, w = shape
    if L.shape == (h, w):
        return np.ascontiguousarray(L, dtype=np.float32)
    shrink = h < L.shape[0] and w < L.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(np.asarray(L, np.float32), (w, h), interpolation=interp)


def _guided_slope(ab: np.ndarray, L: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Local slope ``A`` of the linear fits ``ab = A * L + B`` over (2r+1)^2 windows, smoothed
    like the guided filter (He et al., 2013) smooths its coefficients.

    Parameters
    ----------
    ab : ndarray of float32, shape (h, w, 2)
    L : ndarray of float32, shape (h, w), in [0, 100]

    Returns
    -------
    ndarray of float32, shape (h, w, 2), in ab units per L unit.
    """
    ksize = (2 * radius + 1, 2 * radius + 1)

    def box(x):
        return cv2.boxFilter(x, -1, ksize, borderType=cv2.BORDER_REFLECT)

    mean_L = box(L)
    var_L = box(L * L) - mean_L * mean_L
    cov = box(L[..., None] * ab) - mean_L[..., None] * box(ab)
    return box(cov / (var_L[..., None] + np.float32(eps)))


@numba.njit(nogil=True, cache=True, fastmath=True)
def _add_detail(ab_slope, L_up, L, out):
    # ab + slope * (L - L_up) in one pass: numpy's strided broadcasts took 3.5 ms a 480p frame.
    for i in range(L.shape[0]):
        detail = L[i] - L_up[i]
        out[i, 0] = ab_slope[i, 0] + ab_slope[i, 2] * detail
        out[i, 1] = ab_slope[i, 1] + ab_slope[i, 3] * detail


def _source_coords(n_out: int, n_in: int, index: np.ndarray) -> np.ndarray:
    """Where output samples ``index`` (of ``n_out``) fall on an ``n_in``-sample input, with
    pixel centres aligned as in :func:`cv2.resize`."""
    return ((index.astype(np.float64) + 0.5) * (n_in / n_out) - 0.5).astype(np.float32)


def _cubic_rows(small: np.ndarray, H: int, W: int, rows: slice) -> np.ndarray:
    """Rows ``rows`` of ``small`` resized bicubically to (H, W), as :func:`cv2.resize` would
    give them (a strip through :func:`cv2.remap` agrees with the whole to ~1e-4)."""
    if rows.start == 0 and rows.stop == H:
        return cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
    h, w = small.shape[:2]
    ys = _source_coords(H, h, np.arange(rows.start, rows.stop))
    xs = _source_coords(W, w, np.arange(W))
    map_x = np.ascontiguousarray(np.broadcast_to(xs[None, :], (len(ys), W)))
    map_y = np.ascontiguousarray(np.broadcast_to(ys[:, None], (len(ys), W)))
    return cv2.remap(small, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def upsample_ab(ab: np.ndarray, L_small: np.ndarray, L_full: np.ndarray, radius: int = 1,
                eps: float = 256.0, rows: slice | None = None) -> np.ndarray:
    """Upsample chroma to full resolution, guided by the full-resolution lightness.

    The chroma is upsampled bicubically, and the lightness detail the render could not see
    (``L_full`` minus the upsampled ``L_small``) is added to it, scaled by how chroma varies with
    lightness locally (the slope of the guided filter's linear fits). Where a strong L edge
    separates two colours, that slope is large and the chroma switches at the full-resolution
    edge instead of smearing over a render pixel; in flat or colour-uniform regions the slope is
    near zero and this is plain bicubic interpolation.

    Measured with true a/b shrunk to render size (``python -m benchmarks.quality
    --upsampling``), RGB PSNR / a/b RMSE on the strongest 10% of L edges: at 24x (20 Sun & Hays
    scenes, render 32) 34.32 dB / 4.58 against bicubic's 33.83 / 4.78 and the guided filter's
    30.81 / 6.55; at 1.5x (CBSD68, render 256) 52.05 / 0.73 against 52.19 / 0.71 and
    41.41 / 2.54; with the render a/b blurred like a network's, never below bicubic. The guided
    filter alone (vidcolor's first upsampler) loses 1 to 11 dB because it smooths the chroma.

    Parameters
    ----------
    ab : ndarray of float32, shape (h, w, 2)
        Chroma at render resolution, in about [-110, 110].
    L_small : ndarray of float32, shape (h, w), in [0, 100]
        The lightness the network saw.
    L_full : ndarray of float32, shape (H, W), in [0, 100]
        The output's own lightness.
    radius : int
        Window radius of the local fits, in render pixels.
    eps : float
        Regularization of the fits, in L units squared: larger trusts L edges less (towards
        plain bicubic), smaller transfers more L detail into the chroma.
    rows : slice, optional
        Compute only these full-resolution rows (strips of a large picture, to bound memory);
        the strips put together equal the whole to ~1e-4.

    Returns
    -------
    ndarray of float32, shape (H, W, 2), or (rows, W, 2)
    """
    H, W = L_full.shape
    rows = slice(0, H) if rows is None else slice(*rows.indices(H))
    return _upsampler(ab, L_small, (H, W), radius, eps)(L_full[rows], rows)


def _upsampler(ab: np.ndarray, L_small: np.ndarray, full_shape: tuple[int, int],
               radius: int = 1, eps: float = 256.0):
    """:func:`upsample_ab` with the render-size work done once, for strip after strip.

    Returns
    -------
    callable
        ``f(L_rows (rows, W) float32, rows: slice) -> ab (rows, W, 2) float32``, where
        ``L_rows`` is the full-resolution lightness of those rows only; so the caller never
        needs all of it at once.
    """
    H, W = full_shape
    L_small = np.asarray(L_small, np.float32)
    ab = np.asarray(ab, np.float32)
    if (H, W) == L_small.shape:
        # Same size: nothing is missing from the render, keep its chroma as it is.
        return lambda L_rows, rows: ab[rows].copy()
    # Chroma and slope go through one 4-channel resize: half the cost of two 2-channel ones.
    ab_slope = np.concatenate([ab, _guided_slope(ab, L_small, radius, eps)], axis=-1)

    def upsample(L_rows: np.ndarray, rows: slice) -> np.ndarray:
        up = _cubic_rows(ab_slope, H, W, rows)
        L_up = _cubic_rows(L_small, H, W, rows)
        L_rows = np.ascontiguousarray(L_rows, np.float32)
        out = np.empty(L_rows.shape + (2,), np.float32)
        _add_detail(up.reshape(-1, 4), L_up.reshape(-1), L_rows.reshape(-1), out.reshape(-1, 2))
        return out

    return upsample


def _strips(height: int) -> list[slice]:
    """Row strips of ``_STRIP_ROWS`` covering ``height`` rows."""
    return [slice(y, min(height, y + _STRIP_ROWS)) for y in range(0, height, _STRIP_ROWS)]


def shrink_l(l_rows, full_shape: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """The lightness of a large image at a smaller size, never holding it whole at full size.

    Strip by strip, each strip's rows are resized to the new width; then the narrow result is
    resized to the new height. Area averaging is separable, so this equals one 2-D resize (to
    float rounding); it costs ``H * w`` floats instead of ``H * W``.

    Parameters
    ----------
    l_rows : callable
        ``l_rows(rows: slice) -> ndarray of float32, shape (rows, W), in [0, 100]``: the
        full-resolution lightness of those rows (computed on demand from the picture).
    full_shape : (H, W)
    shape : (h, w)
        The size wanted; area-averaged along an axis that shrinks, linear along one that grows.

    Returns
    -------
    ndarray of float32, shape (h, w), in [0, 100]
    """
    H, W = full_shape
    h, w = shape

    def resize(x, width, height):
        shrink = width <= x.shape[1] and height <= x.shape[0]
        if (height, width) == x.shape:
            return np.asarray(x, np.float32)
        return cv2.resize(x, (width, height),
                          interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    narrow = np.empty((H, w), np.float32)
    for rows in _strips(H):
        narrow[rows] = resize(np.asarray(l_rows(rows), np.float32), w, rows.stop - rows.start)
    return np.ascontiguousarray(resize(narrow, w, h))


# A still's render is predicted in six views: as is and mirrored, at 7/8, 1 and 9/8 of the
# render size. Their mean cancels some of each view's errors: on held-out photos +0.11 dB at
# equal colourfulness, on CBSD68 +0.07 dB (benchmarks/RESULTS.md). Video frames are predicted
# once: six times the model's work would cost a film far more than the stabilizer's blending
# of neighbouring frames, which averages errors already.
VIEW_SCALES = (0.875, 1.0, 1.125)


def predict_views(predict, shrink, full_shape: tuple[int, int], render_size: int,
                  multiple: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Mean a/b of a network over the test-time views of a picture (see ``VIEW_SCALES``).

    Parameters
    ----------
    predict : callable
        ``predict(L (2, h, w) in [0, 100]) -> ab (2, h, w, 2)``, e.g. ``Colorizer.predict_ab``;
        called once per scale with the view and its mirror image.
    shrink : callable
        ``shrink((h, w)) -> L (h, w)``: the picture's lightness at a size, made from the
        sharpest copy there is (an upscaled render would be a blurred view).
    full_shape : (H, W)
        The picture's size, whose aspect ratio the views keep.
    render_size : int
        See :func:`render_shape`; the views are at ``VIEW_SCALES`` times it.
    multiple : int

    Returns
    -------
    ab : ndarray of float32, shape (h, w, 2), in [-128, 128]
        At the render's shape, ``render_shape(*full_shape, render_size, multiple)``.
    L_small : ndarray of float32, shape (h, w), in [0, 100]
        The render itself.
    """
    L_small = shrink(render_shape(*full_shape, render_size, multiple))
    h, w = L_small.shape
    total = np.zeros((h, w, 2), np.float32)
    for scale in VIEW_SCALES:
        L = L_small if scale == 1 else shrink(render_shape(*full_shape, round(render_size * scale), multiple))
        ab = np.asarray(predict(np.stack([L, L[:, ::-1]])), np.float32)
        for view in (ab[0], ab[1][:, ::-1]):
            total += cv2.resize(np.ascontiguousarray(view), (w, h), interpolation=cv2.INTER_LINEAR)
    return total / np.float32(2 * len(VIEW_SCALES)), L_small


def predict_small(l_rows, full_shape: tuple[int, int], model, render_size: int | None = None,
                  tile: int | None = None, tile_overlap: int | None = None,
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The network's a/b for one image, at the resolution the network worked at.

    Small images get one render, predicted in several views (:func:`predict_views`). Large
    ones (see :func:`vidcolor.tiling.plan_tiles`) get such a render of the whole for context,
    then overlapping tiles of a larger working copy.

    Parameters
    ----------
    l_rows : callable
        ``l_rows(rows: slice) -> (rows, W) float32`` lightness, see :func:`shrink_l`.
    full_shape : (H, W)
    model : Colorizer-like
    render_size : int, optional
        The whole-image render's size; defaults to the model's.
    tile, tile_overlap : int, optional
        See :func:`vidcolor.tiling.plan_tiles`: None is automatic, ``tile=0`` never tiles.
    progress : bool
        A progress bar over tiles (on terminals only).

    Returns
    -------
    ab_small : ndarray of float32, shape (h, w, 2)
    L_small : ndarray of float32, shape (h, w), in [0, 100]
        The lightness ``ab_small`` belongs to (the render, or the tiled working copy).
    """
    from vidcolor import tiling

    H, W = full_shape
    size = render_size or model.render_size
    plan = tiling.plan_tiles(H, W, size, model.multiple, tile, tile_overlap)
    if plan is None:
        return predict_views(model.predict_ab, lambda s: shrink_l(l_rows, full_shape, s), full_shape,
                             size, model.multiple)
    L_work = shrink_l(l_rows, full_shape, plan.work_shape)
    ab_render, L_render = predict_views(model.predict_ab, lambda s: resize_l(L_work, s), full_shape,
                                        size, model.multiple)
    return tiling.tiled_ab(model, L_render, L_work, plan, progress, ab_render=ab_render), L_work


def gamut_radius(full_rows: int, small_rows: int) -> int:
    """Radius (full-resolution pixels) over which :func:`vidcolor.color.fit_gamut` smooths its
    chroma scale: the window spans about one pixel of the resolution the chroma was predicted
    at, detail the network never gave. Measured (benchmarks/RESULTS.md, large stills): on a
    12-megapixel scan the worst colour line scored 5.63 with radius 0, 2.91 with 1, 2.20 with
    2; on CBSD68 radius 1 costs 0.08 of colourfulness and no PSNR."""
    return max(1, math.ceil(full_rows / small_rows / 4))


def finish_rgb(ab_small: np.ndarray, L_small: np.ndarray, L_full: np.ndarray,
               dtype=np.uint8) -> np.ndarray:
    """Full-resolution sRGB from render-size chroma and the full-resolution lightness.

    The chroma is upsampled guided by ``L_full`` (:func:`upsample_ab`) and fitted into the
    gamut (smoothly, see :func:`gamut_radius`), so the output's lightness is ``L_full`` itself
    (:func:`vidcolor.color.gamut_rgb`).

    Parameters
    ----------
    ab_small : ndarray of float32, shape (h, w, 2)
    L_small : ndarray of float32, shape (h, w), in [0, 100]
        The lightness the network saw.
    L_full : ndarray of float32, shape (H, W), in [0, 100]
    dtype : numpy.uint8 or numpy.uint16

    Returns
    -------
    ndarray of `dtype`, shape (H, W, 3)
    """
    radius = gamut_radius(L_full.shape[0], L_small.shape[0])
    return color.gamut_rgb(L_full, upsample_ab(ab_small, L_small, L_full), dtype, radius)


def colorize_image(rgb: np.ndarray, model=None, render_size: int | None = None,
                   tile: int | None = None, tile_overlap: int | None = None,
                   progress: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """Colorize one image, keeping its own lightness.

    Large images are colorized in overlapping tiles that share the whole image's context (see
    :mod:`vidcolor.tiling`). Full resolution is only ever handled in strips of rows: besides
    ``rgb`` and the output, memory holds a working copy of a few megapixels and one strip.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3) or (H, W)
        Grey, colour or toned input; only its lightness is used.
    model : Colorizer, optional
        Defaults to the shipped model.
    render_size : int, optional
    tile : int, optional
        Tile side in working pixels; None chooses automatically, 0 never tiles.
    tile_overlap : int, optional
        Minimum overlap of neighbouring tiles, in working pixels (default: a quarter tile).
    progress : bool
        A progress bar over tiles on stderr (on terminals only).
    out : ndarray of the input's dtype, shape (H, W, 3), optional
        Where to write the result; may be ``rgb`` itself (each strip is read before it is
        overwritten), which saves a full-resolution copy for large scans.

    Returns
    -------
    ndarray of the input's dtype, shape (H, W, 3)
    """
    if model is None:
        model = load_colorizer(None)
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = rgb[..., None]
    if rgb.shape[-1] == 1:
        rgb = np.broadcast_to(rgb, rgb.shape[:2] + (3,))
    H, W = rgb.shape[:2]
    if out is None:
        out = np.empty((H, W, 3), rgb.dtype)
    elif out.shape != (H, W, 3) or out.dtype != rgb.dtype:
        raise ValueError(f"out: expected {rgb.dtype} {(H, W, 3)}, got {out.dtype} {out.shape}")

    # Full resolution only in strips: the float temporaries of the colour conversions cost
    # ~60 bytes a pixel, too much for a whole 100-megapixel scan; even one float L plane is
    # 400 MB there, so L is computed again, strip by strip, wherever it is needed.
    def l_rows(rows: slice) -> np.ndarray:
        return color.rgb_to_l(rgb[rows])

    ab_small, L_small = predict_small(l_rows, (H, W), model, render_size, tile, tile_overlap,
                                      progress)
    upsample = _upsampler(ab_small, L_small, (H, W))
    radius = gamut_radius(H, L_small.shape[0])
    halo = 2 * radius  # how far the smoothed gamut fit reaches: strips equal the whole
    for rows in _strips(H):
        ext = slice(max(0, rows.start - halo), min(H, rows.stop + halo))
        L = l_rows(ext)
        strip = color.gamut_rgb(L, upsample(L, ext), rgb.dtype, radius)
        out[rows] = strip[rows.start - ext.start:rows.stop - ext.start]
    return out


# --- files and folders -----------------------------------------------------------------------

def load_colorizer(model_dir: str | Path | None):
    """Load a model directory, or the shipped model, with a clear error when it is missing.

    Parameters
    ----------
    model_dir : str or Path, optional

    Returns
    -------
    vidcolor.models.store.Colorizer
    """
    from vidcolor.models import store

    if model_dir is None and not (store.DEFAULT_MODEL_DIR / "config.json").is_file():
        raise VidcolorError(
            f"the shipped model is missing ({store.DEFAULT_MODEL_DIR}); "
            "pass a trained model with --model DIR"
        )
    if model_dir is not None and not Path(model_dir).is_dir():
        raise VidcolorError(f"{model_dir}: no such model directory")
    return store.load_model(model_dir)


def find_pictures(folder: Path, exclude: Path | None) -> list[Path]:
    """Image files under ``folder`` (recursively, sorted), skipping hidden files and folders
    (our own temporary files among them) and anything inside ``exclude``."""
    from vidcolor.imageio import IMAGE_SUFFIXES

    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if exclude is not None and exclude in path.resolve().parents:
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            found.append(path)
    return sorted(found)


def plan_outputs(inputs, output) -> tuple[list[tuple[Path, Path]], bool]:
    """Pair every input picture with its output path.

    One input file gives the file ``output`` (unless ``output`` is an existing folder). Anything
    else makes ``output`` a folder: a single input folder is mirrored into it with the same
    relative names; with several inputs, files keep their names and folders keep their own name
    as a subfolder. BMP inputs give PNG outputs (BMP cannot hold the provenance mark).

    Parameters
    ----------
    inputs : sequence of str or Path
        Files and folders.
    output : str or Path

    Returns
    -------
    jobs : list of (input path, output path)
    folder_mode : bool
        True when the output is a folder.

    Raises
    ------
    VidcolorError
        Missing inputs, folders without pictures, an output format that cannot be written, or
        two inputs that would be written to the same output.
    """
    from vidcolor.imageio import output_suffix, writable_suffix

    inputs = [Path(p) for p in inputs]
    names_folder = str(output).endswith(("/", "\\"))  # "out/" means a folder; Path drops the /
    output = Path(output)
    for path in inputs:
        if not path.exists():
            raise VidcolorError(f"{path}: no such file or folder")
    single_file = len(inputs) == 1 and inputs[0].is_file()
    if single_file and not output.is_dir() and not names_folder:
        if not writable_suffix(output.suffix):
            what = output.suffix or "a file without an ending"
            raise VidcolorError(f"{output}: cannot write {what}; use .png, .tif, .jpg or .webp")
        return [(inputs[0], output)], False

    exclude = output.resolve()
    jobs = []
    for path in inputs:
        if path.is_file():
            jobs.append((path, Path(path.name)))
            continue
        found = find_pictures(path, exclude)
        if not found:
            raise VidcolorError(f"{path}: no pictures in this folder")
        prefix = Path() if len(inputs) == 1 else Path(path.resolve().name)
        jobs += [(f, prefix / f.relative_to(path)) for f in found]

    planned, seen = [], {}
    for src, rel in jobs:
        dst = output / rel.with_suffix(output_suffix(rel.suffix))
        if dst in seen:
            raise VidcolorError(f"{seen[dst]} and {src} would both be written to {dst}")
        seen[dst] = src
        planned.append((src, dst))
    return planned, True


def colorize_file(src: Path, dst: Path, model, render_size: int | None, mark: str,
                  overwrite: bool, tile: int | None = None, tile_overlap: int | None = None,
                  progress: bool = False) -> None:
    """Colorize one picture file into another, keeping size, depth, alpha and lightness.

    The colours are written over the decoded samples where the decoder allows (one
    full-resolution picture in memory, not two); the output file appears only once it is
    complete (see :func:`vidcolor.imageio.write_image`), so an interruption leaves nothing
    half-written.

    Raises
    ------
    VidcolorError
        Unreadable input, existing output without ``overwrite``, or an output that cannot be
        written; the message names the file.
    """
    from vidcolor.imageio import read_image, write_image

    if dst.exists() and not overwrite:  # before the work, not after
        raise VidcolorError(f"{dst}: exists (use --overwrite to replace it)")
    picture = read_image(src)
    # Decoders hand out read-only arrays at times (Pillow's buffers); then a new one it is.
    out = picture.rgb if picture.rgb.flags.writeable else None
    rgb = colorize_image(picture.rgb, model, render_size, tile=tile, tile_overlap=tile_overlap,
                         progress=progress, out=out)
    try:
        write_image(dst, rgb, picture.alpha, mark=mark, overwrite=overwrite)
    except OSError as e:
        raise VidcolorError(f"{dst}: cannot write ({e.strerror or e})") from None


def colorize_files(inputs, output, model_dir=None, render_size: int | None = None,
                   overwrite: bool = False, model=None, tile: int | None = None,
                   tile_overlap: int | None = None) -> int:
    """Colorize picture files and folders: the work of ``vidcolor image``.

    Each output has its input's size, bit depth (8 or 16; JPEG and WebP outputs are 8-bit),
    alpha channel and lightness; only a/b are predicted. A provenance mark goes into every
    output. A picture that cannot be read or written gets a one-line error on stderr naming the
    file, and the others are still done.

    Parameters
    ----------
    inputs : sequence of str or Path
        Picture files and folders (see :func:`plan_outputs` for where the outputs go).
    output : str or Path
        The output file, or folder.
    model_dir : str or Path, optional
        A trained model; by default the shipped one.
    render_size : int, optional
        Network resolution; by default the model's.
    overwrite : bool
        Replace existing outputs; by default they are left alone and reported.
    model : Colorizer-like, optional
        An already loaded model (overrides ``model_dir``).
    tile : int, optional
        Tile side for large pictures, in working pixels: None chooses automatically, 0 never
        tiles (see :func:`vidcolor.tiling.plan_tiles`).
    tile_overlap : int, optional
        Minimum overlap of neighbouring tiles (default: a quarter tile).

    Returns
    -------
    int
        Exit status: 0 when every picture was written, 1 otherwise.

    Raises
    ------
    VidcolorError
        Problems that stop everything: missing inputs, no pictures, no model.
    """
    from tqdm import tqdm

    from vidcolor.imageio import provenance_text

    jobs, folder_mode = plan_outputs(inputs, output)
    if model is None:
        model = load_colorizer(model_dir)
    mark = provenance_text(model.name)
    failed = 0
    # disable=None: a bar only on a terminal, so logs and pipes stay clean.
    bar = tqdm(jobs, unit="image", disable=None if folder_mode else True, file=sys.stderr,
               dynamic_ncols=True)
    for src, dst in bar:
        try:
            colorize_file(src, dst, model, render_size, mark, overwrite, tile, tile_overlap,
                          progress=True)
        except VidcolorError as e:
            failed += 1
            tqdm.write(f"vidcolor: error: {e}", file=sys.stderr)
        except MemoryError:  # one huge scan should not end a folder's run
            failed += 1
            tqdm.write(f"vidcolor: error: {src}: too large for the memory available",
                       file=sys.stderr)
    bar.close()
    if failed and len(jobs) > 1:
        print(f"vidcolor: {failed} of {len(jobs)} pictures failed", file=sys.stderr)
    return 1 if failed else 0
