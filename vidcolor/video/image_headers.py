"""The header fields of scanned frames that FFmpeg's image codecs do not give or write: a
DPX or OpenEXR frame's size, bit depth, frame rate and SMPTE timecode.

Read: DPX (SMPTE 268M) holds the frame rate in its motion-picture film header (offset 1724,
else the TV header's at 1940) and the timecode in its TV header (offset 1920, packed BCD);
OpenEXR holds ``framesPerSecond`` (rational) and ``timeCode`` attributes. FFmpeg's decoders
read some of these (the DPX one rounds the rate to a fraction over 4096, so 23.976 comes out
as 4004/167) and its PNG/TIFF/JPEG ones have none, so they are read here from the bytes.

Written: FFmpeg's DPX encoder writes only the 1664-byte generic header; :func:`dpx_with_timing`
grows it to the full 2048 bytes, with the film and TV headers (undefined fields all ones, as
the standard says) holding the rate and the timecode. Its OpenEXR encoder writes neither
attribute; :func:`exr_with_timing` inserts them into the header and moves the offset table's
entries by the bytes inserted. Pure functions on bytes: no decoder needed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["FrameHeader", "dpx_with_timing", "exr_with_timing", "read_header"]

#: Frame rates a float header field is snapped to (23.976 stored as a float is 24000/1001).
_COMMON_RATES = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001),
                 Fraction(48000, 1001), Fraction(120000, 1001))
_DPX_FULL_HEADER = 2048
_UNDEFINED = 0xFFFFFFFF


@dataclass(frozen=True)
class FrameHeader:
    """What a frame's header says (None: not given by this format or this file).

    Attributes
    ----------
    width, height : int or None
    bits : int or None
        Bits per sample (DPX 8/10/12/16, EXR 16 for half, 32 for float).
    rate : Fraction or None
    timecode : int or None
        Packed BCD (:meth:`vidcolor.timecode.Timecode.bcd`).
    data_size : int or None
        Bytes the file should have at least (a DPX's declared file size).
    """

    width: int | None = None
    height: int | None = None
    bits: int | None = None
    rate: Fraction | None = None
    timecode: int | None = None
    data_size: int | None = None


def _rate_of_float(value: float) -> Fraction | None:
    """A header's float frame rate as a fraction (NTSC rates recognized); None if unset."""
    if not (0 < value < 1000):  # NaN (undefined: all ones) fails this too
        return None
    for rate in _COMMON_RATES:
        if abs(value - float(rate)) < 1e-3:
            return rate
    return Fraction(value).limit_denominator(1000)


def _dpx_endian(data: bytes) -> str:
    if data[:4] == b"SDPX":
        return ">"
    if data[:4] == b"XPDS":
        return "<"
    raise ValueError("not a DPX file")


def _dpx_header(data: bytes) -> FrameHeader:
    e = _dpx_endian(data)
    u32 = lambda at: struct.unpack_from(e + "I", data, at)[0]  # noqa: E731
    f32 = lambda at: struct.unpack_from(e + "f", data, at)[0]  # noqa: E731
    offset = u32(4)
    rate = _rate_of_float(f32(1724)) if offset >= 1728 and len(data) >= 1728 else None
    if rate is None and offset >= 1944 and len(data) >= 1944:
        rate = _rate_of_float(f32(1940))
    tc = u32(1920) if offset >= 1924 and len(data) >= 1924 else _UNDEFINED
    return FrameHeader(width=u32(772), height=u32(776), bits=data[803], rate=rate,
                       timecode=None if tc == _UNDEFINED else tc, data_size=u32(16))


def _exr_attributes(data: bytes) -> tuple[dict[str, tuple[str, bytes]], int]:
    """An OpenEXR header's attributes ``{name: (type, value bytes)}`` and the offset of the
    null byte that ends it (single-part files)."""
    if data[:4] != b"\x76\x2f\x31\x01":
        raise ValueError("not an OpenEXR file")
    if data[5] & 0x10:  # multi-part: the header list has another shape
        raise ValueError("multi-part OpenEXR files are not read")
    at, found = 8, {}
    while data[at] != 0:
        name_end = data.index(b"\0", at)
        type_end = data.index(b"\0", name_end + 1)
        size = struct.unpack_from("<i", data, type_end + 1)[0]
        value_at = type_end + 5
        found[data[at:name_end].decode("latin-1")] = (
            data[name_end + 1:type_end].decode("latin-1"), data[value_at:value_at + size])
        at = value_at + size
    return found, at


def _exr_header(data: bytes) -> FrameHeader:
    attributes, _ = _exr_attributes(data)
    x0, y0, x1, y1 = struct.unpack("<4i", attributes["dataWindow"][1])
    kinds, channels = set(), attributes["channels"][1]
    at = 0
    while channels[at] != 0:
        at = channels.index(b"\0", at) + 1
        kinds.add(struct.unpack_from("<i", channels, at)[0])
        at += 16
    bits = 32 if kinds - {1} else 16  # 1: half; 0 (uint) and 2 (float) are 32-bit
    rate = None
    if "framesPerSecond" in attributes:
        n, d = struct.unpack("<iI", attributes["framesPerSecond"][1])
        rate = Fraction(n, d) if n > 0 and d > 0 else None
    tc = None
    if "timeCode" in attributes:
        tc = struct.unpack("<I", attributes["timeCode"][1][:4])[0]
    return FrameHeader(width=x1 - x0 + 1, height=y1 - y0 + 1, bits=bits, rate=rate,
                       timecode=tc)


def read_header(data: bytes, kind: str) -> FrameHeader:
    """The header fields of a DPX (``kind`` "dpx") or OpenEXR ("exr") frame's first bytes
    (2 KiB hold a DPX header; an EXR header is usually under 1 KiB). Other kinds give an
    empty :class:`FrameHeader`.

    Raises
    ------
    ValueError
        Not a file of that kind, or a header cut short.
    """
    try:
        if kind == "dpx":
            return _dpx_header(data)
        if kind == "exr":
            return _exr_header(data)
    except (struct.error, IndexError, KeyError) as e:
        raise ValueError(f"damaged {kind.upper()} header ({e})") from None
    return FrameHeader()


def dpx_with_timing(data: bytes, rate: Fraction | None, timecode: int | None) -> bytes:
    """A DPX file as FFmpeg's encoder wrote it, its header grown to 2048 bytes with the film
    header's frame rate (offset 1724) and the TV header's timecode (1920, packed BCD) and
    frame rate (1940); every other new field undefined (all ones)."""
    e = _dpx_endian(data)
    offset = struct.unpack_from(e + "I", data, 4)[0]
    if offset >= _DPX_FULL_HEADER:
        header = bytearray(data[:offset])
    else:
        header = bytearray(data[:offset]) + b"\xff" * (_DPX_FULL_HEADER - offset)
    pixels = data[offset:]
    struct.pack_into(e + "I", header, 4, len(header))  # offset to the image data
    struct.pack_into(e + "I", header, 16, len(header) + len(pixels))  # file size
    struct.pack_into(e + "I", header, 28, _DPX_FULL_HEADER - 1664)  # industry header size
    struct.pack_into(e + "I", header, 808, len(header))  # the image element's data offset
    if rate is not None:
        struct.pack_into(e + "f", header, 1724, float(rate))
        struct.pack_into(e + "f", header, 1940, float(rate))
    if timecode is not None:
        struct.pack_into(e + "I", header, 1920, timecode)
        struct.pack_into(e + "I", header, 1924, 0)  # user bits
    return bytes(header) + pixels


#: Scan lines per chunk of each OpenEXR compression (none, RLE, ZIPS, ZIP, PIZ, PXR24,
#: B44, B44A, DWAA, DWAB).
_EXR_LINES = (1, 1, 1, 16, 32, 16, 32, 32, 32, 256)


def _exr_attribute(name: str, kind: str, value: bytes) -> bytes:
    return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value


def exr_with_timing(data: bytes, rate: Fraction | None, timecode: int | None) -> bytes:
    """A single-part scan-line OpenEXR file with ``framesPerSecond`` and ``timeCode``
    attributes added to its header; the offset table's entries move by the bytes added."""
    attributes, end = _exr_attributes(data)
    if data[5] & 0x02:  # tiled: another offset table
        raise ValueError("tiled OpenEXR files are not rewritten")
    added = b""
    if rate is not None and "framesPerSecond" not in attributes:
        rate = Fraction(rate)
        added += _exr_attribute("framesPerSecond", "rational",
                                struct.pack("<iI", rate.numerator, rate.denominator))
    if timecode is not None and "timeCode" not in attributes:
        added += _exr_attribute("timeCode", "timecode", struct.pack("<II", timecode, 0))
    _, y0, _, y1 = struct.unpack("<4i", attributes["dataWindow"][1])
    lines = _EXR_LINES[attributes["compression"][1][0]]
    chunks = -(-(y1 - y0 + 1) // lines)
    table_at = end + 1
    offsets = struct.unpack_from(f"<{chunks}Q", data, table_at)
    moved = struct.pack(f"<{chunks}Q", *(o + len(added) for o in offsets))
    return data[:end] + added + data[end:table_at] + moved + data[table_at + 8 * chunks:]
