"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class VidcolorError(Exception):
    """A problem the user can fix (bad input, missing file, existing output); never a bug."""
