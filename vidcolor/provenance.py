"""The provenance mark: the text every file vidcolor colours carries.

"colorized by vidcolor <version>, model <name>": pictures keep it in their format's software
field, named here (:mod:`vidcolor.picture_write` writes it there, :mod:`vidcolor.imageio`
reads it back), films in their container's metadata (:mod:`vidcolor.video.job`). It lives
apart from picture decoding, so a film job marks its output without importing any image
library.
"""

from __future__ import annotations

from vidcolor._version import __version__

__all__ = ["EXIF_SOFTWARE", "PNG_SOFTWARE_KEY", "PROVENANCE_PREFIX", "TIFF_SOFTWARE",
           "provenance_text"]

#: How every mark begins: what tells vidcolor's mark from another program's software field.
PROVENANCE_PREFIX = "colorized by vidcolor"
#: Where a picture keeps the mark, by format: the EXIF ``Software`` tag (JPEG, WebP), the TIFF
#: ``Software`` tag, the key of a PNG text chunk.
EXIF_SOFTWARE = 0x0131
TIFF_SOFTWARE = 305
PNG_SOFTWARE_KEY = "Software"


def provenance_text(model_name: str) -> str:
    """The provenance mark written into every colorized picture and film.

    Parameters
    ----------
    model_name : str

    Returns
    -------
    str, e.g. ``"colorized by vidcolor 0.1.0, model default"``
    """
    return f"{PROVENANCE_PREFIX} {__version__}, model {model_name}"
