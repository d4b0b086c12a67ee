"""Errors raised by the ``geo`` package."""


class GriddingError(ValueError):
    """Input that the gridding engine cannot work with.

    The message says what was found and what is needed, so that a CLI user can
    fix the file without reading code.
    """
