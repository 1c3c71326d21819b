"""One multipart upload, streamed to a file under a size limit; its file name kept as text only.

Starlette's own form parsing spools every file part to a temporary file with no size limit, and
only hands it over once the whole body is in: a 50 GB upload would fill the disk before the
application could say no. Here the body is parsed as it arrives (python-multipart's streaming
parser): the one file part goes straight to the job's folder, and the request is refused with
413 as soon as it passes the limit (at once, from ``Content-Length``, when the client declares
one), so neither memory nor disk ever holds more than the limit. Besides the picture or film
(field ``file``), a form may carry the guiding files a caller allows (hint images, reference
photos, keyframes, a colour copy: :data:`vidcolor.serve.forms.FILES`), each field with its most
files; the limit counts all of them together. The upload's file name is
reduced to a display name (:func:`display_name`); the file on disk is always named by the
server.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import anyio.to_thread
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from vidcolor.serve.errors import ApiError

__all__ = ["FILE_FIELD", "Part", "Upload", "display_name", "format_size", "receive_upload"]

#: The form field that holds the picture or film.
FILE_FIELD = "file"
# Room for the multipart framing and the text fields on top of the file itself.
_FORM_SLACK = 1 << 20
_MAX_FIELDS = 32
_MAX_FIELD_BYTES = 1 << 20  # room for a hints JSON later; text fields are held in memory
_WRITE_CHUNK = 1 << 20  # file data is written in chunks this big, off the event loop


@dataclass
class Part:
    """One guiding file of a form (see :class:`Upload`).

    Attributes
    ----------
    path : Path
        As written (the server's name for it, ``part-N`` in the request's folder).
    name : str
        The client's file name, made safe for display (:func:`display_name`).
    size : int
        Bytes.
    """

    path: Path
    name: str
    size: int


@dataclass
class Upload:
    """What a request brought.

    Attributes
    ----------
    path : Path
        The file part, as written (the server's name for it).
    name : str
        The client's file name, made safe for display (:func:`display_name`).
    size : int
        Bytes of the file.
    fields : dict of str to str
        The text fields.
    parts : dict of str to list of Part
        The other files, by form field, in the order sent.
    """

    path: Path
    name: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)
    parts: dict[str, list[Part]] = field(default_factory=dict)


def format_size(n: int) -> str:
    """``2000000000`` -> ``"2 GB"``: sizes in messages, in the units ``--max-upload`` takes."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def display_name(raw: str | None, fallback: str = "upload") -> str:
    """A client's file name reduced to something safe to show and to offer for download.

    Only the last component survives (``../../etc/x.png`` and ``C:\\x.png`` give ``x.png``),
    without control characters, leading dots or more than 120 characters. It is never joined
    to a path: files on disk are named by the server.
    """
    text = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    if len(text) > 120:
        stem, dot, suffix = text.rpartition(".")
        text = (stem[:110] + dot + suffix[:9]) if dot else text[:120]
    return text or fallback


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, f"upload too large: at most {format_size(max_bytes)} "
                         "(the server's --max-upload)")


class _Receiver:
    """python-multipart callbacks: text fields into memory, the file part into `path`, the
    guiding files (``extra``: field -> most files) into ``part-N`` beside it."""

    def __init__(self, path: Path, max_bytes: int, extra: dict[str, int] | None = None):
        self.path, self.max_bytes = path, max_bytes
        self.extra = dict(extra or {})
        self.fields: dict[str, str] = {}
        self.file_name: str | None = None  # set once the main file is seen
        self.file_size = 0  # of the main file
        self.total = 0  # bytes of all files
        self.parts: dict[str, list[Part]] = {}
        self.written: list[Path] = []  # every file opened, to remove on failure
        self.complete = False  # the closing boundary was seen
        self.pending = bytearray()  # file data not yet written, of `handle`
        self.closing: list[tuple[object, bytes]] = []  # finished parts' handles and last data
        self.handle = None
        self._part: Part | None = None  # the guiding file being received
        self._headers: dict[bytes, bytes] = {}
        self._header = [b"", b""]
        self._name: str | None = None
        self._text: bytearray | None = None  # None while in the file part

    def callbacks(self) -> dict:
        return {"on_part_begin": self.on_part_begin, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished,
                "on_part_data": self.on_part_data, "on_part_end": self.on_part_end,
                "on_end": self.on_end}

    def on_part_begin(self) -> None:
        self._headers, self._header = {}, [b"", b""]

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header[0] += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header[1] += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header[0].strip().lower()] = self._header[1].strip()
        self._header = [b"", b""]

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in params:
            if len(self.fields) >= _MAX_FIELDS:
                raise ApiError(422, f"too many form fields (at most {_MAX_FIELDS})")
            self._text = bytearray()
            return
        self._text = None
        name = params[b"filename"].decode("utf-8", "replace")
        if self._name == FILE_FIELD and self.file_name is None:
            self.file_name, path = name, self.path
            self._part = None
        elif self._name in self.extra:
            path = self._open_part(self._name, name)
        else:
            others = ", ".join(f"'{f}'" for f in self.extra)
            raise ApiError(422, f"send exactly one file, in the form field '{FILE_FIELD}'"
                                + (f" (guiding files go in {others})" if others else ""))
        self.written.append(path)
        self.handle = open(path, "xb")  # noqa: SIM115 - closed by receive_upload

    def _open_part(self, field_name: str, name: str) -> Path:
        """Count and name a guiding file; refuse one too many."""
        parts = self.parts.setdefault(field_name, [])
        if len(parts) >= self.extra[field_name]:
            raise ApiError(422, f"{field_name}: too many files (at most "
                                f"{self.extra[field_name]})")
        self._part = Part(self.path.with_name(f"part-{len(self.written)}"), display_name(name),
                          0)
        parts.append(self._part)
        return self._part.path

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._text is not None:
            self._text += data[start:end]
            if len(self._text) > _MAX_FIELD_BYTES:
                raise ApiError(413, f"form field '{self._name}' is too long")
            return
        if self._part is None:
            self.file_size += end - start
        else:
            self._part.size += end - start
        self.total += end - start
        if self.total > self.max_bytes:
            raise _too_large(self.max_bytes)
        self.pending += data[start:end]

    def on_part_end(self) -> None:
        if self._text is not None:
            self.fields[self._name] = self._text.decode("utf-8", "replace")
        elif self.handle is not None:  # its last data is written (and it closed) by _flush
            self.closing.append((self.handle, bytes(self.pending)))
            self.handle, self.pending = None, bytearray()

    def on_end(self) -> None:
        self.complete = True


async def receive_upload(stream: AsyncIterator[bytes], content_type: str | None,
                         content_length: str | None, folder: Path, max_bytes: int,
                         extra: dict[str, int] | None = None) -> Upload:
    """Stream a ``multipart/form-data`` body into ``folder / "upload"``.

    Parameters
    ----------
    stream : async iterator of bytes
        The request body (Starlette's ``request.stream()``).
    content_type, content_length : str or None
        The request's headers.
    folder : Path
        An existing folder of the server's own; the file is written there as ``upload``.
    max_bytes : int
        The most the files may have together.
    extra : dict of str to int, optional
        The form fields that may hold guiding files besides ``file``, each with its most
        files (see :attr:`Upload.parts`).

    Returns
    -------
    Upload

    Raises
    ------
    ApiError
        413 past the limit (before reading the body when ``Content-Length`` says so), 415 for
        a body that is not a multipart form, 422 for a form without exactly one file in the
        field ``file``, or with files in other fields than ``extra`` (or more than it allows).
        Nothing is left on disk then.
    """
    boundary = _boundary(content_type)
    if content_length is not None and content_length.isdigit() \
            and int(content_length) > max_bytes + _FORM_SLACK:
        raise _too_large(max_bytes)
    receiver = _Receiver(Path(folder) / "upload", max_bytes, extra)
    # No max_size for the parser: past it, python-multipart truncates silently.
    parser = MultipartParser(boundary, receiver.callbacks())
    body = 0
    try:
        async for chunk in stream:
            body += len(chunk)
            if body > max_bytes + _FORM_SLACK:
                raise _too_large(max_bytes)
            parser.write(chunk)
            if len(receiver.pending) >= _WRITE_CHUNK or receiver.closing:
                await _flush(receiver)
        await _flush(receiver)
        _check_complete(receiver)
    except BaseException as e:
        _discard(receiver)
        if isinstance(e, MultipartParseError):
            raise ApiError(422, "malformed multipart/form-data body") from None
        raise
    finally:
        _close(receiver)
    return Upload(receiver.path, display_name(receiver.file_name), receiver.file_size,
                  receiver.fields, receiver.parts)


def _boundary(content_type: str | None) -> bytes:
    kind, params = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(415, f"send a multipart/form-data upload with the file in the field "
                            f"'{FILE_FIELD}'")
    return params[b"boundary"]


def _write_and_close(handle, data: bytes) -> None:
    handle.write(data)
    handle.close()


async def _flush(receiver: _Receiver) -> None:
    """Write the file data gathered so far, in a worker thread (the event loop never waits
    on the disk); the files whose part has ended are closed."""
    while receiver.closing:
        handle, data = receiver.closing.pop(0)
        await anyio.to_thread.run_sync(_write_and_close, handle, data)
    if receiver.pending and receiver.handle is not None:
        data, receiver.pending = bytes(receiver.pending), bytearray()
        await anyio.to_thread.run_sync(receiver.handle.write, data)


def _close(receiver: _Receiver) -> None:
    for handle in [receiver.handle, *(h for h, _ in receiver.closing)]:
        if handle is not None:
            handle.close()
    receiver.handle, receiver.closing = None, []


def _discard(receiver: _Receiver) -> None:
    _close(receiver)
    for path in receiver.written:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _check_complete(receiver: _Receiver) -> None:
    if receiver.file_name is None:
        raise ApiError(422, f"no file in the form field '{FILE_FIELD}'")
    if not receiver.complete:  # the client stopped sending before the closing boundary
        raise ApiError(400, "the upload ended early")
