"""Writing still images: encoded in memory with the provenance mark, then written atomically.

The file name's ending chooses the format (:func:`writable_suffix`): PNG and TIFF keep 8 or 16
bits and the alpha channel, JPEG and WebP are 8-bit. Every written picture carries the
provenance mark (:mod:`vidcolor.provenance`) in its format's own software field: a PNG text
chunk, the EXIF ``Software`` tag of JPEG and WebP, the TIFF ``Software`` tag
(:func:`vidcolor.imageio.read_provenance` finds it there). The bytes are written atomically
(:mod:`vidcolor.atomic`), so an interrupted run never leaves a half-written picture under the
final name.

Nothing here decodes: reading is :mod:`vidcolor.imageio`'s, which re-exports :func:`write_image`.
Pillow and tifffile are imported only by the functions that encode with them.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

from vidcolor.atomic import exists_error, write_bytes_atomic
from vidcolor.errors import VidcolorError
from vidcolor.provenance import EXIF_SOFTWARE, PNG_SOFTWARE_KEY

__all__ = ["encode_image", "output_suffix", "writable_suffix", "write_image"]

# Formats that can carry a provenance mark, by file name ending.
_WRITE_FORMATS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
    ".webp": "WEBP",
}
_JPEG_QUALITY = 95


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
    return data[:ihdr_end] + _png_text_chunk(PNG_SOFTWARE_KEY, mark) + data[ihdr_end:]


def _encode_tiff(rgb: np.ndarray, alpha: np.ndarray | None, mark: str) -> bytes:
    import tifffile

    samples = rgb if alpha is None else np.dstack([rgb, alpha])
    out = io.BytesIO()
    tifffile.imwrite(
        out, np.ascontiguousarray(samples), photometric="rgb",
        extrasamples=("unassalpha",) if alpha is not None else None,
        # TIFF's text fields are 7-bit ASCII: a model's name in another script is escaped.
        compression="zlib", software=mark.encode("ascii", "backslashreplace").decode("ascii"),
        metadata=None,
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
    exif[EXIF_SOFTWARE] = mark
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
        Provenance text, see :func:`vidcolor.provenance.provenance_text`.
    overwrite : bool
        Replace an existing file; by default that is an error.

    Raises
    ------
    VidcolorError
        Existing output without ``overwrite``, or a format that cannot hold the picture.
    """
    path = Path(path)
    if not overwrite and path.exists():  # fail before the (slow) encoding
        raise exists_error(path)
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8/uint16 RGB of shape (H, W, 3), got {rgb.dtype} "
                         f"{rgb.shape}")
    try:
        data = encode_image(path.suffix, rgb, alpha, mark)
    except VidcolorError as e:
        raise VidcolorError(f"{path}: {e}") from None
    write_bytes_atomic(path, data, overwrite)
