"""A request's guidance: hints, reference photos, keyframes and a colour copy, checked and
placed in its folder.

Besides the picture or film, a form may carry files that guide its colours (:data:`FILES`):
a painted hint image, reference photos, keyframes (a film's frames coloured by hand) and a
colour copy of the same film. Each is sniffed like the upload itself (its bytes say what it
is), refused when it is the wrong kind of file for its field (415 naming the field), and
renamed in the request's folder under a name of the server's (``reference-0.jpg``,
``keyframe-2.png``, ``colour-copy.mp4``), where the option values point. Hints given as JSON
(the ``hints`` text field, the ``--hints`` format) are checked against the picture as
displayed and kept beside it as ``hints.json``; a hint image as ``hints-image.png``. A
picture job finds its hints there (:func:`hint_files`): they are not an option value.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from vidcolor import hints as hints_module
from vidcolor.errors import VidcolorError
from vidcolor.serve.config import ServeConfig
from vidcolor.serve.errors import ApiError
from vidcolor.serve.sniff import Media, sniff
from vidcolor.serve.uploads import Part, Upload

__all__ = ["FILES", "Guides", "HINTS_JSON", "PLURAL", "file_limits", "hint_files",
           "place_guides", "check_hints"]

#: Where a picture's hints are kept in its folder.
HINTS_JSON = "hints.json"
_HINTS_IMAGE = "hints-image"


@dataclass(frozen=True)
class _File:
    kinds: tuple[str, ...]  # the uploads it applies to
    holds: str  # "image" or "video": what the file itself must be
    stem: str  # its name in the folder (numbered when several)
    limit: str | None  # the ServeConfig field bounding the count; None: one file
    doc: str


#: The guiding files a job takes besides ``file``, by form field.
FILES = {
    "hints_image": _File(("image",), "image", _HINTS_IMAGE, None,
                         "Hints, painted: a picture of the photo's size (as displayed), every "
                         "pixel with alpha > 0 a hint of its colour (as --hints-image)."),
    "references": _File(("image", "video"), "image", "reference", "max_references",
                        "Colour photos (of the same scene, costume or place) whose colours "
                        "guide the result (as --reference); repeat the field for several."),
    "keyframes": _File(("video",), "image", "keyframe", "max_keyframes",
                       "Films: frames coloured by hand (as --keyframe), each at the time given "
                       "in keyframe_times or named by its time like 00-01-23.456.png, as "
                       "POST /keyframes exports them; repeat the field for several."),
    "colour_from": _File(("video",), "video", "colour-copy", None,
                         "Films: a colour copy of the same film, any resolution (as "
                         "--colour-from); see colour_offset."),
}
#: How a refusal names the uploads of each kind.
PLURAL = {"image": "pictures", "video": "films"}


def file_limits(config: ServeConfig) -> dict[str, int]:
    """The most files each guiding field takes (what the upload parser enforces)."""
    return {name: getattr(config, spec.limit) if spec.limit else 1
            for name, spec in FILES.items()}


@dataclass(frozen=True)
class Guides:
    """A request's guiding files, placed in its folder.

    Attributes
    ----------
    references : list of Path
    keyframes : list of (Path, str)
        Each keyframe's file and the client's name for it (which may hold its time).
    colour_from : Path, optional
    hints_image : Path, optional
    """

    references: list[Path] = field(default_factory=list)
    keyframes: list[tuple[Path, str]] = field(default_factory=list)
    colour_from: Path | None = None
    hints_image: Path | None = None


def _place(part: Part, field_name: str, index: int | None, media: Media,
           max_pixels: int) -> Path:
    """Sniff one guiding file and give it its name in the folder."""
    spec = FILES[field_name]
    try:
        found = sniff(part.path, max_pixels, part.name)
    except ApiError as e:
        raise ApiError(e.status, f"{field_name}: {part.name}: {e.message}") from None
    if found.kind != spec.holds:
        what = "a picture" if spec.holds == "image" else "a film"
        raise ApiError(415, f"{field_name}: {part.name} is not {what}")
    if field_name == "hints_image" and found.shape != media.shape:
        raise ApiError(422, f"hints_image: {part.name} is {found.shape[1]}x{found.shape[0]}, "
                            f"the picture is {media.shape[1]}x{media.shape[0]}")
    number = "" if index is None else f"-{index}"
    path = part.path.with_name(f"{spec.stem}{number}{found.suffix}")
    os.replace(part.path, path)
    return path


def place_guides(upload: Upload, media: Media, config: ServeConfig) -> Guides:
    """Check the guiding files of an upload of ``media`` and name them in its folder; run it
    in a worker thread (it reads the files).

    Raises
    ------
    ApiError
        A field of the other kind of upload (422), a file of the wrong kind (415), too many
        pixels (413), a hint image not of the picture's size (422): one line naming the field.
    """
    placed: dict[str, list[Path]] = {}
    for field_name, parts in upload.parts.items():
        spec = FILES[field_name]
        if media.kind not in spec.kinds:
            raise ApiError(422, f"{field_name} applies to {PLURAL[spec.kinds[0]]} only")
        several = spec.limit is not None
        placed[field_name] = [_place(part, field_name, i if several else None, media,
                                     config.max_pixels) for i, part in enumerate(parts)]
    keyframes = list(zip(placed.get("keyframes", []),
                         [p.name for p in upload.parts.get("keyframes", [])]))
    return Guides(references=placed.get("references", []), keyframes=keyframes,
                  colour_from=next(iter(placed.get("colour_from", [])), None),
                  hints_image=next(iter(placed.get("hints_image", [])), None))


def check_hints(text: str, shape: tuple[int, int], most: int) -> dict:
    """The ``hints`` field's JSON (the ``--hints`` format), checked against a picture of
    ``shape`` (rows, columns as displayed).

    Raises
    ------
    VidcolorError
        Not JSON, not the format, a point outside the picture, more than ``most`` points:
        one line starting ``hints:``.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise VidcolorError(f"hints: bad JSON ({e.msg}, line {e.lineno} column {e.colno})") \
            from None
    points = data.get("points") if isinstance(data, dict) else None
    if isinstance(points, list) and len(points) > most:
        raise VidcolorError(f"hints: too many points ({len(points)}; at most {most})")
    try:
        hints_module.parse_points(data, shape)
    except ValueError as e:
        raise VidcolorError(f"hints: {e}") from None
    return data


def hint_files(folder: Path):
    """The hints a picture job keeps in its folder, as :class:`vidcolor.photos.HintFiles`;
    None when it has none."""
    from vidcolor.photos import HintFiles

    if (folder / HINTS_JSON).is_file():
        return HintFiles(folder / HINTS_JSON)
    painted = sorted(folder.glob(f"{_HINTS_IMAGE}.*"))
    return HintFiles(painted[0], image=True) if painted else None
