"""Reading and writing still images: the only place vidcolor touches image files.

Reading gives a :class:`Picture`: RGB samples as uint8 or uint16 (the file's own depth), the
alpha channel apart (so colour work never sees it), with the EXIF orientation already applied.
Pillow decodes most files; 16-bit PNGs go through OpenCV and 16-bit TIFFs through tifffile,
because Pillow silently reduces 16-bit colour to 8 bits.

Writing encodes in memory, then writes a temporary file in the output's folder and renames it
into place, so an interrupted run never leaves a half-written picture under the final name. Every
written picture carries a provenance mark ("colorized by vidcolor <version>, model <name>") in
its format's own software field: a PNG text chunk, the EXIF ``Software`` tag of JPEG and WebP,
the TIFF ``Software`` tag.

Also here, with no decoder needed: which files are pictures (:data:`IMAGE_SUFFIXES`,
:func:`find_pictures`) and the provenance text itself (:func:`provenance_text`). Pillow is
imported only by the functions that decode or encode, so a film job can import this module for
the mark without it.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vidcolor.errors import VidcolorError

if TYPE_CHECKING:  # Pillow is imported where a file is decoded or encoded (see the docstring)
    from PIL import Image

__all__ = [
    "Picture", "IMAGE_SUFFIXES", "find_pictures", "read_image", "write_image", "read_provenance",
    "provenance_text", "apply_orientation", "output_suffix", "writable_suffix",
]

# File name endings vidcolor reads as images (lower case).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"})
# Formats that can carry a provenance mark, by file name ending.
_WRITE_FORMATS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
    ".webp": "WEBP",
}
_EXIF_ORIENTATION = 0x0112
_EXIF_SOFTWARE = 0x0131
_TIFF_ORIENTATION = 274
_TIFF_SOFTWARE = 305
_PNG_SOFTWARE_KEY = "Software"
_PROVENANCE_PREFIX = "colorized by vidcolor"
_JPEG_QUALITY = 95

# The process umask, read once at import (reading it means setting it, which is not
# thread-safe later): temporary files are created private, and given the usual mode on rename.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


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


def provenance_text(model_name: str) -> str:
    """The provenance mark written into every colorized picture.

    Parameters
    ----------
    model_name : str

    Returns
    -------
    str, e.g. ``"colorized by vidcolor 0.1.0, model default"``
    """
    from vidcolor import __version__

    return f"{_PROVENANCE_PREFIX} {__version__}, model {model_name}"


def find_pictures(folder: str | Path, exclude: str | Path | None = None) -> list[Path]:
    """Picture files under a folder, by name (:data:`IMAGE_SUFFIXES`), recursively, sorted.

    Hidden files and everything in hidden folders are skipped: vidcolor's own temporary files
    (``.NAME.XXXX.part``) among them, and the thumbnails and resource forks that file managers
    and other systems leave beside pictures.

    Parameters
    ----------
    folder : str or Path
    exclude : str or Path, optional
        Skip everything inside this folder (an output folder within the input).

    Returns
    -------
    list of Path
        Each ``folder / relative path``; files are not opened, so some may not decode.
    """
    folder = Path(folder)
    exclude = None if exclude is None else Path(exclude).resolve()
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


# --- reading ---------------------------------------------------------------------------------

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


def _png_bit_depth(path: Path) -> int:
    # The IHDR chunk always comes first: 8-byte signature, length, "IHDR", width, height, depth.
    with open(path, "rb") as f:
        head = f.read(25)
    return head[24] if len(head) == 25 else 8


def _decode_with_opencv(path: Path) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)
    # IMREAD_UNCHANGED keeps 16 bits and alpha (and, for PNG, ignores EXIF orientation,
    # which is applied afterwards like for every other format).
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError("OpenCV could not decode it")
    return array


def _read_deep_png(path: Path, orientation: int) -> tuple[np.ndarray, np.ndarray | None]:
    array = _decode_with_opencv(path)
    if array.dtype != np.uint16:
        array = array.astype(np.uint16) * np.uint16(257)  # 8 -> 16 bits exactly
    rgb, alpha = _split_channels(array, bgr=True)
    return apply_orientation(rgb, orientation), _orient_opt(alpha, orientation)


def _orient_opt(alpha: np.ndarray | None, orientation: int) -> np.ndarray | None:
    return None if alpha is None else apply_orientation(alpha, orientation)


def _read_deep_tiff(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """16-bit TIFF: tifffile decodes exactly; OpenCV covers compressions tifffile cannot do
    without the optional ``imagecodecs`` package (LZW, JPEG)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        orientation_tag = page.tags.get(_TIFF_ORIENTATION)
        orientation = int(orientation_tag.value) if orientation_tag is not None else 1
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
        array = _decode_with_opencv(path)
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
        If the file is missing, truncated, corrupt or of an unsupported kind; the message names
        the file.
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise VidcolorError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            fmt = im.format or "unknown"
            bits = im.tag_v2.get(258, (8,)) if fmt == "TIFF" else (8,)
            deep_tiff = fmt == "TIFF" and max(np.atleast_1d(bits)) > 8
            deep_png = fmt == "PNG" and _png_bit_depth(path) == 16
            if deep_png:
                rgb, alpha = _read_deep_png(path, _orientation(im))
            elif deep_tiff:
                rgb, alpha = _read_deep_tiff(path)
            else:
                im.load()  # decode now, so that truncated files fail here
                # After loading: Pillow turns TIFFs upright itself and then drops the tag.
                orientation = _orientation(im)
                rgb, alpha = _from_pillow(im)
                rgb = apply_orientation(rgb, orientation)
                alpha = _orient_opt(alpha, orientation)
    except VidcolorError:
        raise
    except Exception as e:  # noqa: BLE001 - decoders raise anything on corrupt data
        if _is_tiff(path):
            # Pillow cannot even open some valid TIFFs (16-bit grey + alpha): try tifffile.
            try:
                rgb, alpha = _read_deep_tiff(path)
                fmt = "TIFF"
            except Exception:  # noqa: BLE001
                raise VidcolorError(f"{path}: cannot read image ({_reason(e)})") from None
        else:
            raise VidcolorError(f"{path}: cannot read image ({_reason(e)})") from None
    return Picture(np.ascontiguousarray(rgb), None if alpha is None else
                   np.ascontiguousarray(alpha), fmt)


def _orientation(im: Image.Image) -> int:
    return int(im.getexif().get(_EXIF_ORIENTATION, 1) or 1)


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4)
    return head in (b"II*\x00", b"MM\x00*")


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
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
    from PIL import Image

    with Image.open(path) as im:
        im.load()  # PNG text chunks after the image data are only seen once it is read
        candidates = []
        if im.format == "PNG":
            candidates += [str(v) for v in getattr(im, "text", {}).values()]
        elif im.format == "TIFF":
            candidates.append(str(im.tag_v2.get(_TIFF_SOFTWARE, "")))
        candidates.append(str(im.getexif().get(_EXIF_SOFTWARE, "")))
    for text in candidates:
        if text.startswith(_PROVENANCE_PREFIX):
            return text
    return None


# --- writing ---------------------------------------------------------------------------------

def writable_suffix(suffix: str) -> bool:
    """Whether vidcolor can write a file with this name ending (case-insensitive)."""
    return suffix.lower() in _WRITE_FORMATS


def output_suffix(suffix: str) -> str:
    """The file name ending to write for an input ending: BMP cannot hold a provenance mark,
    so BMP inputs give PNG outputs; every other readable format is written as itself.

    Parameters
    ----------
    suffix : str
        Like ``".JPG"``; case is kept.
    """
    return ".png" if suffix.lower() == ".bmp" else suffix


def _to_8bit(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.uint8:
        return samples
    # Exact rounding of v * 255 / 65535.
    return ((samples.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_text_chunk(key: str, text: str) -> bytes:
    try:  # tEXt holds Latin-1; anything else needs an (uncompressed) iTXt chunk
        return _png_chunk(b"tEXt", key.encode("latin-1") + b"\0" + text.encode("latin-1"))
    except UnicodeEncodeError:
        data = key.encode("latin-1") + b"\0\0\0" + b"\0" + b"\0" + text.encode("utf-8")
        return _png_chunk(b"iTXt", data)


def _encode_png(rgb: np.ndarray, alpha: np.ndarray | None, mark: str) -> bytes:
    # OpenCV, not Pillow: Pillow cannot write 16-bit colour PNGs.
    samples = rgb[..., ::-1] if alpha is None else np.dstack([rgb[..., ::-1], alpha])
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(samples),
                           [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise VidcolorError("PNG encoding failed")
    data = buf.tobytes()
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, then the 13-byte IHDR chunk
    return data[:ihdr_end] + _png_text_chunk(_PNG_SOFTWARE_KEY, mark) + data[ihdr_end:]


def _encode_tiff(rgb: np.ndarray, alpha: np.ndarray | None, mark: str) -> bytes:
    import tifffile

    samples = rgb if alpha is None else np.dstack([rgb, alpha])
    out = io.BytesIO()
    tifffile.imwrite(
        out, np.ascontiguousarray(samples), photometric="rgb",
        extrasamples=("unassalpha",) if alpha is not None else None,
        compression="zlib", software=mark, metadata=None,
    )
    return out.getvalue()


def _encode_pillow(fmt: str, rgb: np.ndarray, alpha: np.ndarray | None, mark: str) -> bytes:
    from PIL import Image

    rgb8 = _to_8bit(rgb)
    if alpha is None:
        im = Image.fromarray(np.ascontiguousarray(rgb8), "RGB")
    else:
        im = Image.fromarray(np.ascontiguousarray(np.dstack([rgb8, _to_8bit(alpha)])), "RGBA")
    exif = Image.Exif()
    exif[_EXIF_SOFTWARE] = mark
    out = io.BytesIO()
    if fmt == "JPEG":
        im.save(out, "JPEG", quality=_JPEG_QUALITY, exif=exif)
    else:  # WebP: lossy colour, lossless alpha (alpha_quality=100 is Pillow's default)
        im.save(out, "WEBP", quality=_JPEG_QUALITY, exif=exif)
    return out.getvalue()


def encode_image(suffix: str, rgb: np.ndarray, alpha: np.ndarray | None, mark: str) -> bytes:
    """Encode a picture, with its provenance mark, in the format a file name ending names.

    Parameters
    ----------
    suffix : str
        ".png", ".tif"/".tiff" (8 or 16 bits kept), ".jpg"/".jpeg", ".webp" (8 bits).
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
    alpha : ndarray of the same dtype, shape (H, W), or None
    mark : str
        The provenance text.

    Returns
    -------
    bytes

    Raises
    ------
    VidcolorError
        For formats that cannot carry the picture faithfully: BMP (no place for the mark) and
        JPEG with an alpha channel that is not fully opaque.
    """
    fmt = _WRITE_FORMATS.get(suffix.lower())
    if fmt is None:
        hint = " (BMP cannot hold the provenance mark)" if suffix.lower() == ".bmp" else ""
        raise VidcolorError(f"cannot write {suffix or 'files without an ending'}{hint}; "
                            "use .png, .tif, .jpg or .webp")
    if fmt == "JPEG" and alpha is not None:
        if np.all(alpha == np.iinfo(alpha.dtype).max):
            alpha = None  # fully opaque: JPEG shows it just the same
        else:
            raise VidcolorError("JPEG cannot keep the alpha channel; use .png, .tif or .webp")
    if alpha is not None and (alpha.shape != rgb.shape[:2] or alpha.dtype != rgb.dtype):
        raise ValueError(f"alpha {alpha.dtype} {alpha.shape} does not match rgb {rgb.dtype} "
                         f"{rgb.shape}")
    if fmt == "PNG":
        return _encode_png(rgb, alpha, mark)
    if fmt == "TIFF":
        return _encode_tiff(rgb, alpha, mark)
    return _encode_pillow(fmt, rgb, alpha, mark)


def write_bytes_atomic(path: str | Path, data: bytes, overwrite: bool = False) -> None:
    """Write a file under its final name only once it is complete.

    The bytes go to a temporary file in the same folder (so the rename cannot cross file
    systems), which is then renamed into place.

    Parameters
    ----------
    path : str or Path
    data : bytes
    overwrite : bool
        Without it an existing file is never replaced, even one that appears while writing.

    Raises
    ------
    VidcolorError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise VidcolorError(f"{path}: exists (use --overwrite to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; outputs get the usual mode
        if overwrite:
            os.replace(tmp, path)
        else:
            _rename_no_clobber(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _rename_no_clobber(tmp: str, path: Path) -> None:
    # A hard link fails atomically if the name is taken, unlike a rename.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise VidcolorError(f"{path}: exists (use --overwrite to replace it)") from None
    except OSError:  # file systems without hard links: check, then rename
        if path.exists():
            raise VidcolorError(f"{path}: exists (use --overwrite to replace it)") from None
        os.replace(tmp, path)


def write_image(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None, *,
                mark: str, overwrite: bool = False) -> None:
    """Write a picture atomically, with a provenance mark, in the format its name ends with.

    Parameters
    ----------
    path : str or Path
        Ending in .png or .tif/.tiff (16 bits kept), .jpg/.jpeg or .webp (reduced to 8 bits).
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
    alpha : ndarray, shape (H, W), or None
    mark : str
        Provenance text, see :func:`provenance_text`.
    overwrite : bool
        Replace an existing file; by default that is an error.

    Raises
    ------
    VidcolorError
        Existing output without ``overwrite``, or a format that cannot hold the picture.
    """
    path = Path(path)
    if not overwrite and path.exists():  # fail before the (slow) encoding
        raise VidcolorError(f"{path}: exists (use --overwrite to replace it)")
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8/uint16 RGB of shape (H, W, 3), got {rgb.dtype} "
                         f"{rgb.shape}")
    try:
        data = encode_image(path.suffix, rgb, alpha, mark)
    except VidcolorError as e:
        raise VidcolorError(f"{path}: {e}") from None
    write_bytes_atomic(path, data, overwrite)
