"""vidcolor: colorize black-and-white photographs and archival film.

Public API::

    from vidcolor import colorize_image, colorize_video, load_model
    from vidcolor import ImageOptions, VideoOptions, Window, EncoderOptions, ColorModel
"""

from vidcolor._version import __version__

__all__ = ["__version__", "ColorModel", "EncoderOptions", "ImageOptions", "VideoOptions",
           "Window", "colorize_image", "colorize_video", "load_model"]

_OPTIONS = {"EncoderOptions", "ImageOptions", "VideoOptions", "Window"}


def __getattr__(name):
    # Lazy, so that `import vidcolor` (and `vidcolor --help`) does not pay for Keras.
    if name in _OPTIONS:
        from vidcolor import options

        return getattr(options, name)
    if name == "ColorModel":
        from vidcolor.models.protocol import ColorModel

        return ColorModel
    if name == "load_model":
        from vidcolor.models.store import load_model

        return load_model
    if name == "colorize_image":
        from vidcolor.colorize import colorize_image

        return colorize_image
    if name == "colorize_video":
        from vidcolor.video.pipeline import colorize_video

        return colorize_video
    raise AttributeError(f"module 'vidcolor' has no attribute {name!r}")
