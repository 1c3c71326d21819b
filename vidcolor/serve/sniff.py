"""What an upload is, from its own bytes: a picture, a film, or something refused.

Neither the file name nor the Content-Type a client sends is trusted: the first bytes say which
container or picture format it claims to be, then the decoder's header reader confirms it
(Pillow for pictures, PyAV for films) without decoding the samples. A picture's pixel count is
checked from its header before anything decodes it, so a small file that would decode into
gigabytes (a decompression bomb) is refused with 413; so is a film whose frames are that
large. The suffix chosen here names the upload on disk: the client's name never does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from vidcolor.errors import VidcolorError
from vidcolor.serve.errors import ApiError

__all__ = ["Media", "sniff"]

_ACCEPTED = "JPEG, PNG, TIFF, WebP or BMP pictures; MP4, MOV, MKV, WebM, AVI, MPEG or Ogg films"
# Pillow's format name -> the file name ending a picture is stored under.
_PICTURE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp",
                    "BMP": ".bmp"}
# ISO-BMFF brands of still-picture formats (HEIF, AVIF): an "ftyp" box, but no film.
_STILL_BRANDS = {b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif", b"avis"}


@dataclass(frozen=True)
class Media:
    """A sniffed upload.

    Attributes
    ----------
    kind : {"image", "video"}
    suffix : str
        The file name ending to store it under (".png", ".mp4", ...).
    width, height : int
        Pixels of the picture, or of the film's frames.
    frames : int or None
        Films: the expected frame count (None when unknown).
    turned : bool
        Pictures: shown a quarter turn from how they are stored (EXIF orientation 5 to 8).
    """

    kind: str
    suffix: str
    width: int
    height: int
    frames: int | None = None
    turned: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) as displayed: what hints' x and y refer to."""
        return (self.width, self.height) if self.turned else (self.height, self.width)


def _unsupported(what: str = "") -> ApiError:
    return ApiError(415, f"{what or 'not a picture or a film'}: vidcolor takes {_ACCEPTED}")


def _picture_suffix(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return ".tif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    if head[:2] == b"BM":
        return ".bmp"
    return None


def _video_suffix(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        if head[8:12] in _STILL_BRANDS:
            raise _unsupported("HEIF/AVIF pictures are not supported")
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska, or WebM by its doctype
        return ".webm" if b"webm" in head[:64] else ".mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    if head[:1] == b"\x47" and len(head) > 188 and head[188:189] == b"\x47":  # MPEG-TS sync
        return ".ts"
    if head.startswith(b"\x00\x00\x01\xba"):
        return ".mpg"
    if head.startswith(b"OggS"):
        return ".ogv"
    if head.startswith(b"FLV"):
        return ".flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):  # ASF (WMV)
        return ".wmv"
    return None


def _too_many_pixels(width: int, height: int, max_pixels: int, what: str) -> ApiError:
    return ApiError(413, f"{what} too large: {width} x {height} = {width * height / 1e6:.0f} "
                         f"megapixels, the server takes at most {max_pixels / 1e6:.0f}")


def _picture_size(path: Path) -> tuple[str, int, int, bool]:
    """Pillow's format name, the size and whether EXIF turns it a quarter, from the header
    only (no samples decoded)."""
    from PIL import Image

    with warnings.catch_warnings():
        # The limit is ours (checked by the caller); Pillow's warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                return im.format or "", im.width, im.height, _turned(im)
        except Image.DecompressionBombError as e:
            raise ApiError(413, f"picture too large ({str(e).split('(')[0].strip()})") from None
        except Exception:  # noqa: BLE001 - header readers raise anything on corrupt data
            pass
    return _tiff_size(path)


def _turned(im) -> bool:
    try:
        return im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:  # noqa: BLE001 - damaged EXIF is ignored, as the reader ignores it
        return False


def _tiff_size(path: Path) -> tuple[str, int, int, bool]:
    # Pillow cannot open some valid TIFFs (16-bit grey with alpha) that tifffile reads.
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            return "TIFF", int(page.imagewidth), int(page.imagelength), False
    except Exception:  # noqa: BLE001
        raise _unsupported("not a picture vidcolor can read") from None


def _sniff_picture(path: Path, max_pixels: int) -> Media:
    fmt, width, height, turned = _picture_size(path)
    suffix = _PICTURE_FORMATS.get(fmt)
    if suffix is None:
        raise _unsupported(f"{fmt or 'unknown'} pictures are not supported")
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels, "picture")
    if width < 1 or height < 1:
        raise ApiError(422, "the picture has no pixels")
    return Media("image", suffix, width, height, turned=turned)


def _sniff_video(path: Path, suffix: str, max_pixels: int, name: str) -> Media:
    import av
    import av.error

    from vidcolor.video.probe import probe

    # The frame size from the container's headers first: probing decodes a frame.
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            size = (streams[0].codec_context.width, streams[0].codec_context.height) \
                if streams and streams[0].codec_context is not None else (0, 0)
    except av.error.FFmpegError:
        raise _unsupported("not a film vidcolor can read") from None
    if size[0] * size[1] > max_pixels:
        raise _too_many_pixels(*size, max_pixels, "film frames")
    try:
        info = probe(path)
    except VidcolorError as e:
        raise ApiError(422, str(e).replace(str(path), name)) from None
    return Media("video", suffix, info.width, info.height, info.estimate_frames() or None)


def sniff(path: str | Path, max_pixels: int, name: str = "upload") -> Media:
    """What the file at ``path`` is; run it in a worker thread (it reads the file).

    Parameters
    ----------
    path : path
    max_pixels : int
        The most pixels a picture (or a film's frame) may have.
    name : str
        The upload's display name, used in messages instead of the server's path.

    Returns
    -------
    Media

    Raises
    ------
    ApiError
        415 for what is neither a picture nor a film vidcolor reads, 413 for too many pixels,
        422 for a film that does not decode.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(256)
    if _picture_suffix(head):
        return _sniff_picture(path, max_pixels)
    suffix = _video_suffix(head)
    if suffix is None:
        raise _unsupported()
    return _sniff_video(path, suffix, max_pixels, name)
