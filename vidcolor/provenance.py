"""The provenance mark: the text every file vidcolor colours carries.

"colorized by vidcolor <version>, model <name>": pictures keep it in their format's software
field (:mod:`vidcolor.imageio` writes and reads it there), films in their container's metadata
(:mod:`vidcolor.video.pipeline`). It lives apart from picture decoding, so a film job marks its
output without importing any image library.
"""

from __future__ import annotations

from vidcolor._version import __version__

__all__ = ["PROVENANCE_PREFIX", "provenance_text"]

#: How every mark begins: what tells vidcolor's mark from another program's software field.
PROVENANCE_PREFIX = "colorized by vidcolor"


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
