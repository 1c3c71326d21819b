"""Reading still images: where vidcolor decodes picture files.

Reading gives a :class:`Picture`: RGB samples as uint8 or uint16 (the file's own depth), the
alpha channel apart (so colour work never sees it), with the EXIF orientation already applied.
Pillow decodes most files; 16-bit PNGs go through OpenCV and 16-bit TIFFs through tifffile,
because Pillow silently reduces 16-bit colour to 8 bits. :func:`read_provenance` finds the
provenance mark (:mod:`vidcolor.provenance`) in a picture's software field.

Reading is also where damaged and hostile files stop: a file is opened once, without
blocking, and refused unless it is a regular file (a FIFO would hang); a picture larger than
this machine's memory allows (:func:`max_picture_pixels`) is refused from its header, before
any decoding; damaged metadata (an EXIF block Pillow cannot parse, an orientation of the wrong
type, a TIFF tag tifffile cannot read) is ignored when the pixels are fine, and the decoders'
own complaints about it stay off the user's terminal (:func:`_quiet_decoders`).

Writing (:mod:`vidcolor.picture_write`: encoding, the mark, atomic writes), which files are
pictures (:mod:`vidcolor.picture_files`) and the provenance text have modules of their own,
which need no decoder; :func:`write_image`, :func:`write_bytes_atomic`, :func:`find_pictures`
and :func:`provenance_text` are still importable from here. Pillow is imported only by the
functions that decode.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

# Besides what this module uses: moved names still imported from here (tests, benchmarks).
from vidcolor.atomic import write_bytes_atomic
from vidcolor.errors import VidcolorError
from vidcolor.picture_files import find_pictures
from vidcolor.picture_write import write_image
from vidcolor.provenance import EXIF_SOFTWARE, PROVENANCE_PREFIX, TIFF_SOFTWARE, provenance_text

if TYPE_CHECKING:  # Pillow is imported where a file is decoded (see the docstring)
    from PIL import Image

__all__ = [
    "Picture", "find_pictures", "read_image", "write_image", "read_provenance",
    "provenance_text", "apply_orientation", "max_picture_pixels", "write_bytes_atomic",
]

_EXIF_ORIENTATION = 0x0112
_TIFF_ORIENTATION = 274
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
# Bytes of a file read before decoding: enough for the PNG header's bit depth (byte 24).
_HEAD_BYTES = 32

# Peak memory of `vidcolor image` per picture pixel, measured on 24-megapixel pictures (peak
# RSS above the process's before the job, a fake model so no network memory): 8-bit JPEG 14.0
# bytes, 8-bit PNG 15.5, 8-bit grey TIFF 10.8, 16-bit TIFF 18.1, 16-bit PNG 31.5 (the file,
# OpenCV's decoded BGR, the RGB copy, the encoded output). A picture is refused when the worst
# of these would exceed the machine's physical memory (23 GiB: 770 megapixels; 8 GiB: 270):
# past that it would only be killed (Linux overcommits) or swap, after minutes of work.
_BYTES_PER_PIXEL = 32
# OpenCV, which decodes 16-bit PNGs, refuses more than 2**30 pixels itself.
_MAX_PIXELS_ANY_MACHINE = 2 ** 30


@dataclass
class Picture:
    """One decoded still image.

    Attributes
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
        Gamma-encoded samples at the file's depth; grey files have three equal channels.
    alpha : ndarray of the same dtype, shape (H, W), or None
        The file's alpha channel, unassociated (not premultiplied).
    format : str
        Pillow's format name of the source: "JPEG", "PNG", "TIFF", "WEBP", "BMP", ...
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    format: str

    @property
    def bits(self) -> int:
        """8 or 16: the sample depth."""
        return 8 * self.rgb.dtype.itemsize


# --- reading ---------------------------------------------------------------------------------

def max_picture_pixels() -> int:
    """The most pixels a picture may have to be read: what this machine's memory allows.

    ``vidcolor image`` needs about ``_BYTES_PER_PIXEL`` bytes of memory per picture pixel at its
    peak (the decoded samples, the output written over them, the encoded file); a picture
    that needs more than the physical memory is refused before it is decoded. Pillow's own
    limit (a warning at 89 megapixels, an error at twice that) is raised to this one, since
    vidcolor handles large scans in strips and tiles.

    Returns
    -------
    int
    """
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):  # not POSIX: assume a modest 8 GB
        memory = 8 << 30
    return min(memory // _BYTES_PER_PIXEL, _MAX_PIXELS_ANY_MACHINE)


def _pillow():
    """``PIL.Image``, with its decompression-bomb limit no lower than :func:`max_picture_pixels`
    (vidcolor checks that limit itself, with a one-line error, see :func:`_check_pixels`)."""
    from PIL import Image

    limit = max_picture_pixels()
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < limit:
        Image.MAX_IMAGE_PIXELS = limit
    return Image


def _check_pixels(path: Path, width: int, height: int) -> None:
    limit = max_picture_pixels()
    if width * height > limit:
        raise VidcolorError(f"{path}: {width}x{height} is {width * height / 1e6:.0f} megapixels; "
                            f"this machine's memory allows at most {limit / 1e6:.0f}")


class _MuteInThisThread(logging.Filter):
    """Drops a logger's records while :func:`_quiet_decoders` runs in the emitting thread."""

    def __init__(self):
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.local, "depth", 0)


# tifffile reports damaged tags on its own logger ("tifffile"), which without a handler goes
# to stderr as bare library text; only what tifffile says while vidcolor reads is dropped.
_TIFFFILE_MUTE = _MuteInThisThread()
logging.getLogger("tifffile").addFilter(_TIFFFILE_MUTE)


@contextlib.contextmanager
def _quiet_decoders():
    """Keep the decoders' complaints about damaged metadata off the terminal while reading.

    Pillow warns (``warnings.warn``) about corrupt EXIF blocks and odd tags, tifffile logs
    about tags it cannot parse; when the pixels decode, the picture is read and the damaged
    metadata ignored, so those messages only alarm. A file that does not decode still fails
    with vidcolor's one-line error. Python's warning filters are process-wide: pictures are
    read by one thread at a time (the image and eval jobs have one).
    """
    local = _TIFFFILE_MUTE.local
    local.depth = getattr(local, "depth", 0) + 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        local.depth -= 1


@contextlib.contextmanager
def _open_regular(path: Path):
    """The file at ``path`` open for reading, refused unless it is a regular file.

    Opened without blocking and checked on the open descriptor, so a FIFO (which would wait
    for a writer forever) or a device cannot hang the run, not even one swapped in after a
    check by name; every decoder then reads this one handle.

    Raises
    ------
    VidcolorError
        Missing, unreadable (permissions), a folder or another kind of non-regular file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise VidcolorError(f"{path}: no such file") from None
    except OSError as e:  # permissions, a folder on some systems, too many links...
        raise VidcolorError(f"{path}: cannot open ({e.strerror or e})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise VidcolorError(f"{path}: is a folder, not a picture file")
        raise VidcolorError(f"{path}: not a regular file (a pipe, socket or device)")
    with os.fdopen(fd, "rb") as f:
        yield f


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Turn a decoded image upright according to its EXIF/TIFF orientation tag.

    Parameters
    ----------
    array : ndarray, shape (H, W) or (H, W, C)
    orientation : int
        The tag's value, 1..8 (others are treated as 1, like most viewers do).

    Returns
    -------
    ndarray, shape (H, W, ...) or (W, H, ...) for the transposing orientations 5..8
        A view where possible.
    """
    # Value -> (transpose, flip rows, flip columns), applied in that order; the same
    # geometry as PIL.ImageOps.exif_transpose.
    ops = {
        2: (False, False, True), 3: (False, True, True), 4: (False, True, False),
        5: (True, False, False), 6: (True, False, True), 7: (True, True, True),
        8: (True, True, False),
    }.get(int(orientation))
    if ops is None:
        return array
    transpose, flip_rows, flip_cols = ops
    if transpose:
        array = np.swapaxes(array, 0, 1)
    if flip_rows:
        array = array[::-1]
    if flip_cols:
        array = array[:, ::-1]
    return array


def _split_channels(array: np.ndarray, bgr: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W), (H, W, 2), (H, W, 3) or (H, W, 4) samples -> RGB (H, W, 3) and alpha or None."""
    if array.ndim == 2:
        array = array[..., None]
    channels = array.shape[-1]
    if channels in (1, 2):
        rgb = np.repeat(array[..., :1], 3, axis=-1)
        alpha = array[..., 1] if channels == 2 else None
    elif channels in (3, 4):
        rgb = array[..., 2::-1] if bgr else array[..., :3]
        alpha = array[..., 3] if channels == 4 else None
    else:
        raise ValueError(f"unsupported number of channels: {channels}")
    return rgb, alpha


def _unpremultiply(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Associated (premultiplied) colour -> unassociated, same dtype."""
    top = np.iinfo(rgb.dtype).max
    a = alpha.astype(np.float32)[..., None]
    out = np.where(a > 0, rgb.astype(np.float32) * top / np.maximum(a, 1), 0)
    return np.clip(np.rint(out), 0, top).astype(rgb.dtype)


def _png_bit_depth(head: bytes) -> int:
    # The IHDR chunk always comes first: 8-byte signature, length, "IHDR", width, height, depth.
    return head[24] if len(head) >= 25 else 8


def _valid_orientation(value) -> int:
    """An EXIF/TIFF orientation value, or 1 (as it is) for anything that is not one of the
    eight: a damaged block or a tag of the wrong type (text, a fraction) says nothing."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8:
        return int(value)
    return 1


def _take_orientation(im: Image.Image) -> int:
    """The picture's orientation, taken out of Pillow's EXIF before the pixels are loaded.

    Taken out, because Pillow turns TIFFs upright itself while loading them, in some modes
    only (8-bit grey came out unrotated), whereas vidcolor turns every format upright once,
    with :func:`apply_orientation`. An EXIF block Pillow cannot parse gives 1: the pixels may
    well be fine.
    """
    try:
        exif = im.getexif()
        return _valid_orientation(exif.pop(_EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - EXIF parsers raise anything on damaged blocks
        return 1


# File descriptor 2 belongs to the process: two threads redirecting it at once could leave it
# pointing at a closed file, so redirections take turns.
_NATIVE_STDERR_LOCK = threading.RLock()


@contextlib.contextmanager
def _native_stderr(lines: list[str]):
    """Collect what native code writes to file descriptor 2 meanwhile into ``lines``.

    libpng prints its errors there itself ("libpng error: ..."), as OpenCV's TIFF decoder
    prints libtiff's warnings, past Python; collected, they become part of vidcolor's one-line
    error instead of stray lines on the user's terminal.
    """
    sys.stderr.flush()
    with _NATIVE_STDERR_LOCK, tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines += sink.read().decode(errors="replace").splitlines()


def _decode_with_opencv(f) -> np.ndarray:
    f.seek(0)
    data = np.frombuffer(f.read(), dtype=np.uint8)
    said: list[str] = []
    # IMREAD_UNCHANGED keeps 16 bits and alpha (and, for PNG, ignores EXIF orientation,
    # which is applied afterwards like for every other format).
    with _native_stderr(said):
        array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError(said[0].strip() if said else "OpenCV could not decode it")
    return array


def _read_deep_png(f, orientation: int) -> tuple[np.ndarray, np.ndarray | None]:
    array = _decode_with_opencv(f)
    if array.dtype != np.uint16:
        array = array.astype(np.uint16) * np.uint16(257)  # 8 -> 16 bits exactly
    rgb, alpha = _split_channels(array, bgr=True)
    return apply_orientation(rgb, orientation), _orient_opt(alpha, orientation)


def _orient_opt(alpha: np.ndarray | None, orientation: int) -> np.ndarray | None:
    return None if alpha is None else apply_orientation(alpha, orientation)


def _read_deep_tiff(f, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """16-bit TIFF: tifffile decodes exactly; OpenCV covers compressions tifffile cannot do
    without the optional ``imagecodecs`` package (LZW, JPEG)."""
    import tifffile

    f.seek(0)
    with tifffile.TiffFile(f, name=path.name) as tif:
        page = tif.pages[0]
        _check_pixels(path, int(page.imagewidth), int(page.imagelength))
        orientation_tag = page.tags.get(_TIFF_ORIENTATION)
        orientation = _valid_orientation(1 if orientation_tag is None else orientation_tag.value)
        photometric = int(page.photometric)
        extrasamples = tuple(int(e) for e in page.extrasamples)
        samples = int(page.samplesperpixel)
        try:
            array = page.asarray()
        except ValueError as e:
            if "imagecodecs" not in str(e):
                raise
            array = None
    if array is None:
        array = _decode_with_opencv(f)
        channels = 1 if array.ndim == 2 else array.shape[-1]
        if channels != samples and not (samples == 1 and channels == 3):
            raise ValueError(f"{samples}-sample TIFF with this compression needs the "
                             "'imagecodecs' package")
        # OpenCV's TIFF decoder turns the image upright itself.
        return _split_channels(array, bgr=True)
    if array.dtype.kind != "u" or array.dtype.itemsize > 2:
        raise ValueError(f"unsupported TIFF samples ({array.dtype})")
    if array.dtype == np.uint8:
        array = array.astype(np.uint16) * np.uint16(257)
    if page.planarconfig == 2 and array.ndim == 3:  # separate planes: (S, H, W)
        array = np.moveaxis(array, 0, -1)
    if photometric == 0:  # MINISWHITE: 0 is white
        array = np.iinfo(np.uint16).max - array
    elif photometric not in (1, 2):  # neither grey (MINISBLACK) nor RGB
        raise ValueError(f"unsupported 16-bit TIFF photometric interpretation {photometric}")
    colour_samples = 3 if photometric == 2 else 1
    if array.ndim == 3 and array.shape[-1] > colour_samples + 1:
        array = array[..., : colour_samples + 1]  # keep the first extra sample only
    rgb, alpha = _split_channels(array, bgr=False)
    if alpha is not None and extrasamples[:1] == (1,):  # associated alpha
        rgb = _unpremultiply(rgb, alpha)
    elif alpha is not None and extrasamples[:1] not in ((2,),):
        alpha = None  # an unspecified extra sample is not transparency
    return apply_orientation(rgb, orientation), _orient_opt(alpha, orientation)


def _from_pillow(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """An 8-bit (or 16-bit grey) Pillow image -> RGB and alpha arrays, not yet oriented."""
    mode = im.mode
    if mode.startswith("I;16"):
        grey = np.asarray(im).astype(np.uint16)
        return _split_channels(grey, bgr=False)
    if mode == "I":  # 32-bit integer grey; PNG and TIFF use it for 16-bit samples
        grey = np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
        return _split_channels(grey, bgr=False)
    if mode == "F":
        raise ValueError("floating-point samples are not supported")
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in im.info
    )
    if mode in ("1", "L") and not has_alpha:
        return _split_channels(np.asarray(im.convert("L")), bgr=False)
    if mode in ("LA", "La"):
        return _split_channels(np.asarray(im.convert("LA")), bgr=False)
    target = "RGBA" if has_alpha else "RGB"
    return _split_channels(np.asarray(im.convert(target)), bgr=False)


def read_image(path: str | Path) -> Picture:
    """Read a still image, upright, with its alpha channel apart.

    Parameters
    ----------
    path : str or Path
        JPEG, PNG, TIFF, WebP or BMP (anything Pillow opens); 8- or 16-bit; grey, colour or
        toned; with or without alpha.

    Returns
    -------
    Picture
        ``rgb`` uint8 or uint16 (H, W, 3) after EXIF orientation; ``alpha`` (H, W) or None.

    Raises
    ------
    VidcolorError
        If the file is missing, unreadable, not a regular file, truncated, corrupt, of an
        unsupported kind or larger than :func:`max_picture_pixels`; the message names the file.
    """
    path = Path(path)
    with _open_regular(path) as f, _quiet_decoders():
        head = b""
        try:
            head = f.read(_HEAD_BYTES)
            # Pillow's libtiff decoder warns on fd 2 itself ("tempfile.tif: ..."); a picture
            # that decodes is coloured without those lines.
            with _native_stderr([]):
                rgb, alpha, fmt = _decode(f, head, path)
        except VidcolorError:
            raise
        except Exception as e:  # noqa: BLE001 - decoders raise anything on corrupt data
            if head[:4] not in _TIFF_MAGIC:
                raise VidcolorError(f"{path}: cannot read image ({_reason(e)})") from None
            # Pillow cannot even open some valid TIFFs (16-bit grey + alpha): try tifffile.
            try:
                (rgb, alpha), fmt = _read_deep_tiff(f, path), "TIFF"
            except VidcolorError:
                raise
            except Exception:  # noqa: BLE001
                raise VidcolorError(f"{path}: cannot read image ({_reason(e)})") from None
    return Picture(np.ascontiguousarray(rgb), None if alpha is None else
                   np.ascontiguousarray(alpha), fmt)


def _decode(f, head: bytes, path: Path) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Decode an open picture file: RGB, alpha or None, and Pillow's name of the format."""
    f.seek(0)
    with _pillow().open(f) as im:
        _check_pixels(path, *im.size)
        fmt = im.format or "unknown"
        deep_png = fmt == "PNG" and _png_bit_depth(head) == 16
        if fmt == "PNG" and not deep_png:
            # Pillow reads a PNG's EXIF by loading the pixels (an eXIf chunk may follow the
            # data), and after a failed load keeps a blank image: loaded here, a broken IDAT
            # fails as corrupt instead of passing as damaged EXIF (libpng checks deep ones).
            im.load()
        orientation = _take_orientation(im)  # before a TIFF is loaded (see there)
        if deep_png:
            return *_read_deep_png(f, orientation), fmt
        bits = im.tag_v2.get(258, (8,)) if fmt == "TIFF" else (8,)
        if fmt == "TIFF" and max(np.atleast_1d(bits)) > 8:
            return *_read_deep_tiff(f, path), fmt
        im.load()  # decode now, so that truncated files fail here
        rgb, alpha = _from_pillow(im)
    return apply_orientation(rgb, orientation), _orient_opt(alpha, orientation), fmt


def _reason(e: Exception) -> str:
    if type(e).__name__ == "UnidentifiedImageError":  # Pillow's words name an object, not why
        return "not a picture, or too damaged to decode"
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = re.sub(r"\s*<[^<>]*>", "", text)  # Python reprs mean nothing to a user
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def read_provenance(path: str | Path) -> str | None:
    """The vidcolor provenance mark of a picture, if it has one.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str or None
        The mark (``"colorized by vidcolor ..."``), or None for pictures without it.
    """
    with _pillow().open(path) as im:
        im.load()  # PNG text chunks after the image data are only seen once it is read
        candidates = []
        if im.format == "PNG":
            candidates += [str(v) for v in getattr(im, "text", {}).values()]
        elif im.format == "TIFF":
            candidates.append(str(im.tag_v2.get(TIFF_SOFTWARE, "")))
        candidates.append(str(im.getexif().get(EXIF_SOFTWARE, "")))
    for text in candidates:
        if text.startswith(PROVENANCE_PREFIX):
            return text
    return None
