"""The one exception type the CLI turns into a one-line message and a non-zero exit, and
:class:`OptionError`, the kind that names the option at fault in whatever words its caller
uses (the command line's flag, a web form's field, a keyword argument)."""

from __future__ import annotations

__all__ = ["OptionError", "VidcolorError"]


class VidcolorError(Exception):
    """A problem the user can fix (bad input, missing file, existing output); never a bug."""


class OptionError(VidcolorError):
    """A problem one option's value can fix, its message naming that option.

    The library names options by their fields (``crf``, ``start``, ``overwrite``); each
    front end spells them its own way (``--crf``, a form field ``crf``). The message is kept
    as a template, so ``str(error)`` is the command line's wording (what the CLI prints) and
    :meth:`for_field` the same message with any other spelling.

    Parameters
    ----------
    field : str
        The option as the library names it: a field of an option value, or a job's keyword.
    template : str
        The message in :meth:`str.format` syntax: ``{field}`` where the option is named,
        ``{name}`` for each of ``values``. User text (paths, given values) goes in ``values``,
        never in the template, so braces in it are only text.
    flag : str, optional
        The command line's spelling; by default ``--`` and the field with hyphens.
    **values
        The message's other parts.

    Attributes
    ----------
    field, template, flag, values
        As given (``flag`` resolved).
    """

    def __init__(self, field: str, template: str, flag: str | None = None, **values):
        self.field = field
        self.template = template
        self.flag = flag or "--" + field.replace("_", "-")
        self.values = values
        super().__init__(self.for_field(self.flag))

    def for_field(self, name: str) -> str:
        """The message with the option spelled ``name`` (e.g. a web form's field name)."""
        return self.template.format(field=name, **self.values)

    def __reduce__(self):
        # The default rebuilds from ``args`` (the message alone), which this constructor does
        # not take: an error pickled to another process, or copied, must come back whole.
        return _rebuild, (type(self), self.field, self.template, self.flag, self.values), \
            self.__dict__


def _rebuild(cls, field: str, template: str, flag: str, values: dict) -> OptionError:
    return cls(field, template, flag, **values)


def first_line(error: BaseException) -> str:
    """An exception's message cut to its first line (for a one-line error), or its type's name
    when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
