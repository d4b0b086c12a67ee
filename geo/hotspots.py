"""Hotspots: the Getis-Ord Gi* statistic over grid polygons.

A plain numpy/scipy implementation of Gi* (Getis & Ord 1992; Ord & Getis
1995) with binary contiguity weights that include the cell itself (the
"star").  It gives the same z-scores as ``esda.G_Local(..., star=True,
transform="B")`` with queen weights, without adding ``esda`` and
``libpysal`` (and their dependency tree) for one formula.  p-values are the
normal approximation, two-sided; they are *not* corrected for multiple
testing, which the dashboard says where it shows them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from scipy import sparse
from scipy.stats import norm

#: (class, minimum |z|): 99 %, 95 % and 90 % confidence, two-sided.
LEVELS: tuple[tuple[str, float], ...] = (("99", 2.5758), ("95", 1.9600), ("90", 1.6449))


def contiguity(grids: gpd.GeoDataFrame, *, tolerance_m: float = 0.5) -> sparse.csr_matrix:
    """Queen contiguity of polygons, with ones on the diagonal.

    Parameters
    ----------
    grids : GeoDataFrame
        Polygons with a CRS.  Geographic data is projected to its local UTM
        zone first, so ``tolerance_m`` is in metres.
    tolerance_m : float
        Polygons closer than this count as neighbours (absorbs the rounding
        of shared edges).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n × n`` binary, symmetric, diagonal set.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> row = gpd.GeoDataFrame(geometry=[box(i, 0, i + 1, 1) for i in range(3)], crs=3857)
    >>> contiguity(row).toarray().astype(int).tolist()
    [[1, 1, 0], [1, 1, 1], [0, 1, 1]]
    """
    if grids.crs is None:
        raise ValueError("grids need a CRS")
    metric = grids.to_crs(grids.estimate_utm_crs()) if grids.crs.is_geographic else grids
    geoms = metric.geometry.values
    left, right = metric.sindex.query(geoms, predicate="dwithin", distance=tolerance_m)
    n = len(grids)
    data = np.ones(len(left), dtype=float)
    weights = sparse.coo_matrix((data, (left, right)), shape=(n, n)).tocsr()
    weights.data[:] = 1.0
    return (weights + sparse.identity(n, format="csr")).sign().tocsr()


def getis_ord_gi_star(
    grids: gpd.GeoDataFrame,
    column: str,
    *,
    weights: sparse.spmatrix | None = None,
    tolerance_m: float = 0.5,
) -> gpd.GeoDataFrame:
    # Long: over 60 lines by its docstring (the formula and an example); the code is short.
    """Gi* z-score, p-value and significance class for each polygon.

    Parameters
    ----------
    grids : GeoDataFrame
        Polygons (e.g. the current grids) with a CRS; not modified.
    column : str
        Numeric column to test, e.g. the number of warnings per grid.
    weights : sparse matrix, optional
        Binary ``n × n`` weights including the diagonal; default
        :func:`contiguity`.
    tolerance_m : float
        Passed to :func:`contiguity`.

    Returns
    -------
    GeoDataFrame
        A copy of ``grids`` with ``gi_z`` (float), ``gi_p`` (two-sided
        normal p-value) and ``gi_class``: ``hot_99``, ``hot_95``, ``hot_90``,
        ``cold_99``, ``cold_95``, ``cold_90`` or ``not_significant``.  With
        fewer than three polygons, or no variation in ``column``, every z is
        0 and every class ``not_significant``.

    Notes
    -----
    For cell *i* with weights :math:`w_{ij}` (including :math:`w_{ii}=1`),
    values :math:`x`, mean :math:`\\bar x` and
    :math:`S = \\sqrt{\\overline{x^2} - \\bar x^2}`:

    .. math::

        G^*_i = \\frac{\\sum_j w_{ij} x_j - \\bar x W_i}
                     {S \\sqrt{(n \\sum_j w_{ij}^2 - W_i^2)/(n-1)}},
        \\quad W_i = \\sum_j w_{ij}

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = gpd.GeoDataFrame({"n": [9, 8, 0, 0, 0, 0]},
    ...     geometry=[box(i, 0, i + 1, 1) for i in range(6)], crs=3857)
    >>> getis_ord_gi_star(cells, "n")["gi_class"].tolist()[:3]
    ['hot_95', 'not_significant', 'not_significant']
    """
    out = grids.copy()
    x = np.asarray(grids[column], dtype=float)
    n = len(x)
    z = np.zeros(n)
    if n >= 3:
        w = contiguity(grids, tolerance_m=tolerance_m) if weights is None else sparse.csr_matrix(weights)
        mean = x.mean()
        s = np.sqrt(max((x**2).mean() - mean**2, 0.0))
        if s > 0:
            w_sum = np.asarray(w.sum(axis=1)).ravel()
            w_sq = np.asarray(w.multiply(w).sum(axis=1)).ravel()
            numerator = w @ x - mean * w_sum
            denominator = s * np.sqrt(np.maximum(n * w_sq - w_sum**2, 0.0) / (n - 1))
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.where(denominator > 0, numerator / denominator, 0.0)
    out["gi_z"] = z
    out["gi_p"] = 2 * norm.sf(np.abs(z))
    out["gi_class"] = [significance_class(value) for value in z]
    return out


def significance_class(z: float) -> str:
    """``hot_99`` … ``cold_90`` or ``not_significant`` for a Gi* z-score.

    Examples
    --------
    >>> significance_class(2.0), significance_class(-3.0), significance_class(0.5)
    ('hot_95', 'cold_99', 'not_significant')
    """
    for level, threshold in LEVELS:
        if abs(z) >= threshold:
            return f"{'hot' if z > 0 else 'cold'}_{level}"
    return "not_significant"
