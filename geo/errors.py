"""Errors and warnings raised by the ``geo`` package."""

from __future__ import annotations

import warnings

import numpy as np


class GriddingError(ValueError):
    """Input that the gridding engine cannot work with.

    The message says what was found and what is needed, so that a CLI user can
    fix the file without reading code.

    Examples
    --------
    >>> isinstance(GriddingError("shops is empty"), ValueError)
    True
    """


def warn_out_of_bounds(
    codes: np.ndarray, sizes: np.ndarray, is_building: np.ndarray, min_size: int, max_size: int
) -> None:
    """Warn of the grids (other than mall grids) outside ``[min_size, max_size]``.

    Called by the public gridding functions themselves, so that the warning
    points at their caller's line.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_out_of_bounds(np.array(["G001", "G002"]), np.array([10, 13]),
    ...                        np.array([False, False]), 8, 12)
    >>> str(caught[0].message)
    '1 grids are outside [8, 12] shops because the shops cannot be split otherwise: G002 (13 shops)'
    """
    bad = ~is_building & ((sizes < min_size) | (sizes > max_size))
    if bad.any():
        listed = ", ".join(f"{codes[i]} ({sizes[i]} shops)" for i in np.flatnonzero(bad)[:10])
        warnings.warn(
            f"{int(bad.sum())} grids are outside [{min_size}, {max_size}] shops because the "
            f"shops cannot be split otherwise: {listed}",
            UserWarning,
            stacklevel=3,
        )
