"""Grid codes: ``G001``, ``G002``, ... in reading order of the map, never renumbered.

A code is ``prefix`` + a zero-padded serial of at least three digits. New
grids number rows from north to south, west to east within a row; an update
keeps every code and gives new grids the next free serial.
"""

from __future__ import annotations

import re

import numpy as np


def reading_order_codes(centre: np.ndarray, area: np.ndarray, *, prefix: str) -> np.ndarray:
    """Codes in reading order of the grids' shop centres.

    Rows run north to south, each as tall as a typical grid (square root of
    the median area), west to east within a row.

    Examples
    --------
    >>> centre = np.array([[0.0, 0.0], [50.0, 100.0], [0.0, 100.0]])
    >>> reading_order_codes(centre, np.full(3, 2500.0), prefix="G").tolist()
    ['G003', 'G002', 'G001']
    """
    band = float(np.sqrt(np.median(area))) or 1.0
    row = np.floor((centre[:, 1].max() - centre[:, 1]) / band)
    order = np.lexsort((centre[:, 0], row))
    width = max(3, len(str(len(centre))))
    codes = np.empty(len(centre), dtype=object)
    codes[order] = [f"{prefix}{i + 1:0{width}d}" for i in range(len(centre))]
    return codes


def code_scheme(codes: list[str]) -> tuple[str, int, int]:
    """Prefix, serial width and next free serial of existing codes.

    Examples
    --------
    >>> code_scheme(["YJ001", "YJ007", "YJ003"])
    ('YJ', 3, 8)
    """
    parsed = [re.fullmatch(r"(.*?)(\d+)", c) for c in codes]
    good = [m for m in parsed if m]
    if not good:
        return "G", 3, 1
    prefix = good[0].group(1)
    width = max(len(m.group(2)) for m in good)
    return prefix, width, max(int(m.group(2)) for m in good) + 1


def next_codes(old_codes: list[str], present: np.ndarray) -> np.ndarray:
    """Codes of labels ``0..len(present)-1``: the old ones kept, the next free serials after.

    Labels past the old codes are new grids; only those still ``present``
    get a serial (a part made and merged again during a repair never reaches
    the user), the others get None.

    Examples
    --------
    >>> next_codes(["G001", "G002"], np.array([True, False, False, True])).tolist()
    ['G001', 'G002', None, 'G003']
    """
    prefix, width, next_serial = code_scheme(old_codes)
    codes = np.empty(len(present), dtype=object)
    codes[: len(old_codes)] = old_codes
    for lab in range(len(old_codes), len(present)):
        if present[lab]:
            codes[lab] = f"{prefix}{next_serial:0{width}d}"
            next_serial += 1
    return codes
