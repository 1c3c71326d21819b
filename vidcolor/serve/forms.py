"""A request's text fields -> the job's option values, checked by constructing them.

Each form field is one entry of a table (its name, the kinds of upload it applies to, how its
text is read); the values then go into :class:`~vidcolor.options.ImageOptions` or
:class:`~vidcolor.options.VideoOptions`, whose constructors are the one place options are
checked: a value no job could use is a :class:`~vidcolor.errors.VidcolorError`, given back as
422 before any work. Unknown fields are refused too (a typo is not ignored). The guiding files
(:mod:`vidcolor.serve.guides`) join the text fields here: reference photos, keyframes (with
``keyframe_times``) and a colour copy (with ``colour_offset``) become option values; the
``hints`` JSON is checked against the picture. An option's error
(:class:`~vidcolor.errors.OptionError`) reaches the client naming the form field it sent
(``crf``), not the command line's flag (:func:`client_message`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vidcolor.errors import OptionError, VidcolorError
from vidcolor.options import (ColourCopy, ImageOptions, Keyframe, Reference, VideoOptions,
                              keyframe_time, parse_time)
from vidcolor.picture_write import output_suffix
from vidcolor.serve.config import ServeConfig
from vidcolor.serve.guides import FILES, PLURAL, Guides, check_hints
from vidcolor.serve.sniff import Media

__all__ = ["JobSpec", "FIELDS", "client_message", "job_spec"]

_PICTURE_FORMATS = {"png": ".png", "jpeg": ".jpg", "jpg": ".jpg", "tiff": ".tif", "tif": ".tif",
                    "webp": ".webp"}
_FILM_FORMATS = {"mp4": ".mp4", "mov": ".mov", "mkv": ".mkv", "webm": ".webm", "avi": ".avi"}


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


def _times(name: str, text: str) -> list[float]:
    return [_time(name, part) for part in text.split(",")]


@dataclass(frozen=True)
class _Field:
    kinds: tuple[str, ...]  # the uploads it applies to
    read: Callable[[str, str], object]
    doc: str = ""  # for the OpenAPI page

    @property
    def json_type(self) -> str:
        """The field's type in the OpenAPI schema."""
        return {_integer: "integer", _number: "number", _boolean: "boolean"}.get(self.read,
                                                                                  "string")


#: The form fields a job takes besides ``file``, by name.
FIELDS = {
    "format": _Field(("image", "video"), _text,
                     "The result's format: png, jpeg, tiff, webp for pictures; mp4, mov, mkv, "
                     "webm, avi for films (default: the input's)."),
    "render_size": _Field(("image", "video"), _integer,
                          "Network resolution (as --render-size; default the model's)."),
    "tile": _Field(("image",), _integer,
                   "Tile side for large pictures, in working pixels; 0 never tiles."),
    "tile_overlap": _Field(("image",), _integer, "Least overlap of neighbouring tiles."),
    "hints": _Field(("image",), _text,
                    'Colours to keep, as the JSON of --hints: {"points": [{"x": 120, "y": 45, '
                    '"radius": 2, "color": "#a03020"}]}, x/y the column/row of the picture as '
                    "displayed."),
    "stabilize": _Field(("video",), _boolean, "Temporal stabilization (default true)."),
    "stabilize_strength": _Field(("video",), _number, "Stabilization strength in [0, 1]."),
    "start": _Field(("video",), _time, "Where to start: seconds or [HH:]MM:SS."),
    "duration": _Field(("video",), _time, "How much to colorize: seconds or [HH:]MM:SS."),
    "codec": _Field(("video",), _text, "FFmpeg encoder (default libx264)."),
    "crf": _Field(("video",), _integer, "Constant rate factor of the encoder."),
    "preset": _Field(("video",), _text, "Encoder speed preset."),
    "keyframe_times": _Field(("video",), _times,
                             "Times of the keyframes files, in their order, comma-separated "
                             "(seconds or [HH:]MM:SS); without it each keyframe is named by "
                             "its time."),
    "colour_offset": _Field(("video",), _integer,
                            "Frames by which the colour_from copy is late (> 0) or early (< 0)."),
}


def client_message(error: Exception) -> str:
    """An error's message as a web client reads it: an option it can set named by its form
    field (``crf must be ...``, where the CLI says ``--crf``; :data:`FIELDS` are named as the
    option values' own fields); any other message, such as one of the server's own options
    (``overwrite``), as it is."""
    if isinstance(error, OptionError) and (error.field in FIELDS or error.field in FILES):
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
    hints : dict, optional
        A picture's hints (the ``--hints`` JSON), checked against it.
    """

    options: ImageOptions | VideoOptions
    suffix: str
    hints: dict | None = None


def _read_fields(fields: dict[str, str], kind: str) -> dict[str, object]:
    values = {}
    for name, text in fields.items():
        spec = FIELDS.get(name)
        if spec is None:
            raise VidcolorError(f"unknown form field {name!r} (known: file, "
                                f"{', '.join([*FIELDS, *FILES])})")
        if kind not in spec.kinds:
            raise VidcolorError(f"{name} applies to {PLURAL[spec.kinds[0]]} only")
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
                            f"{PLURAL[media.kind]}, got {requested!r}")
    return suffix


def _keyframes(guides: Guides, times: list[float] | None) -> list[Keyframe]:
    """Each keyframe file at its time: from ``keyframe_times``, else from its name."""
    if times is not None and len(times) != len(guides.keyframes):
        raise VidcolorError(f"keyframe_times: {len(times)} times for {len(guides.keyframes)} "
                            "keyframes files")
    keyframes = []
    for i, (path, name) in enumerate(guides.keyframes):
        seconds = times[i] if times is not None else keyframe_time(name)
        if seconds is None:
            raise VidcolorError(f"keyframes: {name}: give its time in keyframe_times, or name "
                                "the file by its time like 00-01-23.456.png")
        keyframes.append(Keyframe(str(path), seconds))
    return keyframes


def _film_options(values: dict, guides: Guides, config: ServeConfig) -> VideoOptions:
    offset = values.pop("colour_offset", None)
    if offset is not None and guides.colour_from is None:
        raise VidcolorError("colour_offset needs a colour_from file")
    colour_from = None if guides.colour_from is None else \
        ColourCopy(str(guides.colour_from), offset or 0)
    return VideoOptions.from_fields(
        batch_size=config.batch_size, segment_frames=config.segment_frames,
        keyframes=_keyframes(guides, values.pop("keyframe_times", None)),
        references=tuple(Reference(str(p)) for p in guides.references),
        colour_from=colour_from, **values)


def job_spec(media: Media, fields: dict[str, str], config: ServeConfig,
             guides: Guides = Guides()) -> JobSpec:
    """The options and result format of a job from its form fields and guiding files.

    Parameters
    ----------
    media : Media
        The sniffed upload: which fields apply.
    fields : dict of str to str
        The request's text fields.
    config : ServeConfig
        Film jobs take the server's segment length and batch size; the count of hints.
    guides : Guides
        The guiding files, placed (:func:`vidcolor.serve.guides.place_guides`).

    Raises
    ------
    VidcolorError
        An unknown field, a field of the other kind, or a value the options refuse.
    """
    values = _read_fields(fields, media.kind)
    suffix = _suffix(media, values.pop("format", None))
    if media.kind == "video":
        return JobSpec(_film_options(values, guides, config), suffix)
    hints = values.pop("hints", None)
    if hints is not None and guides.hints_image is not None:
        raise VidcolorError("give hints or hints_image, not both")
    if hints is not None:
        hints = check_hints(hints, media.shape, config.max_hints)
    references = tuple(Reference(str(p)) for p in guides.references)
    return JobSpec(ImageOptions(references=references, **values), suffix, hints)
