"""Tiles of work: how a large gridding is cut into independent pieces, and who runs them.

The gridding's heavy steps (METIS on each tile of about ``TILE_SHOPS`` shops,
the street crossings of each chunk of graph edges, the polygons of each chunk
of grids) are pure functions of one piece each. They are handed to a
*tile map*: a callable like the built-in :func:`map` that returns the results
as a list, **in the order of the pieces**. The default runs them one after the
other in this process; the ``linpu grids build`` command passes one that runs
them on Dask workers. The pieces are cut by count, never by the number of
workers, and every result is put back in piece order, so the grids do not
depend on who ran what or in which order the pieces finished.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

#: ``tile_map(function, pieces) -> [function(piece) for piece in pieces]``, in piece order.
TileMap: TypeAlias = Callable[[Callable[[Any], Any], Sequence[Any]], list]


def in_process(function: Callable[[Any], Any], pieces: Sequence[Any]) -> list:
    """The default tile map: every piece in this process, one after the other.

    Examples
    --------
    >>> in_process(abs, [-2, 3, -4])
    [2, 3, 4]
    """
    return [function(piece) for piece in pieces]


def chunk_bounds(n: int, *, size: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges of at most ``size`` items covering ``range(n)``, by count only.

    Examples
    --------
    >>> chunk_bounds(5, size=2)
    [(0, 2), (2, 4), (4, 5)]
    """
    return [(lo, min(lo + size, n)) for lo in range(0, n, max(1, size))]
