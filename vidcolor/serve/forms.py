"""A request's text fields -> the job's option values, checked by constructing them.

Each form field is one entry of a table (its name, the kinds of upload it applies to, how its
text is read); the values then go into :class:`~vidcolor.options.ImageOptions` or
:class:`~vidcolor.options.VideoOptions`, whose constructors are the one place options are
checked: a value no job could use is a :class:`~vidcolor.errors.VidcolorError`, given back as
422 before any work. Unknown fields are refused too (a typo is not ignored). Hints (the
guided-colour issue) will be one more entry of the table; until then the field is refused with
a clear message. An option's error (:class:`~vidcolor.errors.OptionError`) reaches the client
naming the form field it sent (``crf``), not the command line's flag (:func:`client_message`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.options import ImageOptions, VideoOptions, parse_time
from vidcolor.picture_write import output_suffix
from vidcolor.serve.config import ServeConfig
from vidcolor.serve.sniff import Media

__all__ = ["JobSpec", "FIELDS", "client_message", "job_spec"]

_PICTURE_FORMATS = {"png": ".png", "jpeg": ".jpg", "jpg": ".jpg", "tiff": ".tif", "tif": ".tif",
                    "webp": ".webp"}
_FILM_FORMATS = {"mp4": ".mp4", "mov": ".mov", "mkv": ".mkv", "webm": ".webm", "avi": ".avi"}
_PLURAL = {"image": "pictures", "video": "films"}
# Fields the guided-colour issue will add; refused with this reason until then.
_NOT_YET = {"hints": "hints are not available yet"}


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise VidcolorError(f"{name} must be an integer, got {text!r}") from None


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise VidcolorError(f"{name} must be a number, got {text!r}") from None


def _boolean(name: str, text: str) -> bool:
    value = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}.get(text.lower())
    if value is None:
        raise VidcolorError(f"{name} must be true or false, got {text!r}")
    return value


def _time(name: str, text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as e:
        raise VidcolorError(f"{name}: {e}") from None


def _text(name: str, text: str) -> str:
    return text


@dataclass(frozen=True)
class _Field:
    kinds: tuple[str, ...]  # the uploads it applies to
    read: Callable[[str, str], object]

    @property
    def json_type(self) -> str:
        """The field's type in the OpenAPI schema."""
        return {_integer: "integer", _number: "number", _boolean: "boolean"}.get(self.read,
                                                                                  "string")


#: The form fields a job takes besides ``file``, by name.
FIELDS = {
    "format": _Field(("image", "video"), _text),
    "render_size": _Field(("image", "video"), _integer),
    "tile": _Field(("image",), _integer),
    "tile_overlap": _Field(("image",), _integer),
    "stabilize": _Field(("video",), _boolean),
    "stabilize_strength": _Field(("video",), _number),
    "start": _Field(("video",), _time),
    "duration": _Field(("video",), _time),
    "codec": _Field(("video",), _text),
    "crf": _Field(("video",), _integer),
    "preset": _Field(("video",), _text),
}


def client_message(error: Exception) -> str:
    """An error's message as a web client reads it: an option it can set named by its form
    field (``crf must be ...``, where the CLI says ``--crf``; :data:`FIELDS` are named as the
    option values' own fields); any other message, such as one of the server's own options
    (``overwrite``), as it is."""
    if isinstance(error, OptionError) and error.field in FIELDS:
        return error.for_field(error.field)
    return str(error)


@dataclass(frozen=True)
class JobSpec:
    """What a job will do, checked.

    Attributes
    ----------
    options : ImageOptions or VideoOptions
    suffix : str
        The result's file name ending (its format).
    """

    options: ImageOptions | VideoOptions
    suffix: str


def _read_fields(fields: dict[str, str], kind: str) -> dict[str, object]:
    values = {}
    for name, text in fields.items():
        if name in _NOT_YET:
            raise VidcolorError(_NOT_YET[name])
        spec = FIELDS.get(name)
        if spec is None:
            raise VidcolorError(f"unknown form field {name!r} (known: file, "
                                f"{', '.join(FIELDS)})")
        if kind not in spec.kinds:
            raise VidcolorError(f"{name} applies to {_PLURAL[spec.kinds[0]]} only")
        if text.strip():  # an empty field (an HTML form's blank input) is not given
            values[name] = spec.read(name, text.strip())
    return values


def _suffix(media: Media, requested) -> str:
    choices = _PICTURE_FORMATS if media.kind == "image" else _FILM_FORMATS
    if requested is None:
        if media.kind == "image":
            return output_suffix(media.suffix)  # BMP cannot hold the provenance mark
        return media.suffix if media.suffix in _FILM_FORMATS.values() else ".mkv"
    suffix = choices.get(str(requested).lower())
    if suffix is None:
        raise VidcolorError(f"format must be one of {', '.join(choices)} for "
                            f"{_PLURAL[media.kind]}, got {requested!r}")
    return suffix


def job_spec(media: Media, fields: dict[str, str], config: ServeConfig) -> JobSpec:
    """The options and result format of a job from its form fields.

    Parameters
    ----------
    media : Media
        The sniffed upload: which fields apply.
    fields : dict of str to str
        The request's text fields.
    config : ServeConfig
        Film jobs take the server's segment length and batch size.

    Raises
    ------
    VidcolorError
        An unknown field, a field of the other kind, or a value the options refuse.
    """
    values = _read_fields(fields, media.kind)
    suffix = _suffix(media, values.pop("format", None))
    if media.kind == "image":
        return JobSpec(ImageOptions(**values), suffix)
    options = VideoOptions.from_fields(batch_size=config.batch_size,
                                       segment_frames=config.segment_frames, **values)
    return JobSpec(options, suffix)
