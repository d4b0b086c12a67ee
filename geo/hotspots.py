"""Hotspots: Getis-Ord Gi* over grid polygons, with honest inference.

:func:`hotspots` is what the dashboard and the export call.  It runs PySAL's
``esda.G_Local`` (Getis & Ord 1992; Ord & Getis 1995) with binary queen
contiguity that includes the cell itself (the "star"), judges each grid by
conditional permutations with a fixed seed, cuts the p-values with a
false-discovery rate across all the grids (``esda.fdr``, Benjamini-Hochberg)
and calls a grid hot only when its star neighbourhood and the whole period
hold enough cases: on sparse counts a handful of cases would otherwise make
"significant" clusters out of ties.

:func:`getis_ord_gi_star` gives the analytical z-score alone (esda's ``Zs``),
a description with no significance test behind it.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
from esda import fdr
from esda.getisord import G_Local
from libpysal.weights import WSP
from scipy import sparse
from scipy.stats import norm

#: (class, false-discovery rate): the FDR cut per hotspot class.
FDR_LEVELS: tuple[tuple[str, float], ...] = (("hot_99", 0.01), ("hot_95", 0.05), ("hot_90", 0.10))
#: (class, minimum |z|) of the analytical z alone: 99 %, 95 % and 90 %, two-sided.
LEVELS: tuple[tuple[str, float], ...] = (("99", 2.5758), ("95", 1.9600), ("90", 1.6449))
#: The method as the page and the export name it.
METHOD = "Getis-Ord Gi* (esda.G_Local, star, queen contiguity), conditional permutations, FDR"
PERMUTATIONS = 999
SEED = 20_210_521


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


def _g_local(x: np.ndarray, w: sparse.spmatrix, permutations: int, seed: int) -> G_Local:
    with warnings.catch_warnings():  # islands (grids without a neighbour) are legitimate here
        warnings.simplefilter("ignore")
        weights = WSP(sparse.csr_matrix(w, dtype=float)).to_W(silence_warnings=True)
        return G_Local(x, weights, transform="B", star=True, permutations=permutations,
                       keep_simulations=permutations > 0, n_jobs=1, seed=seed)


def getis_ord_gi_star(
    grids: gpd.GeoDataFrame,
    column: str,
    *,
    weights: sparse.spmatrix | None = None,
    tolerance_m: float = 0.5,
) -> gpd.GeoDataFrame:
    """Gi* analytical z-score, its two-sided normal p-value and z class, per polygon.

    A description, not a test: the normal approximation does not hold on
    sparse counts and nothing corrects for testing every grid.  Call
    :func:`hotspots` to say which grids are hot.

    Parameters
    ----------
    grids : GeoDataFrame
        Polygons with a CRS; not modified.
    column : str
        Numeric column, e.g. the number of cases per grid.
    weights : sparse matrix, optional
        Binary ``n × n`` weights including the diagonal; default :func:`contiguity`.
    tolerance_m : float
        Passed to :func:`contiguity`.

    Returns
    -------
    GeoDataFrame
        A copy with ``gi_z``, ``gi_p`` and ``gi_class`` (``hot_99`` …
        ``cold_90`` or ``not_significant``); with fewer than three polygons
        or no variation every z is 0.

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
    z = np.zeros(len(x))
    if len(x) >= 3 and x.std() > 0:
        w = contiguity(grids, tolerance_m=tolerance_m) if weights is None else weights
        z = np.nan_to_num(np.asarray(_g_local(x, w, 0, SEED).Zs, dtype=float))
    out["gi_z"] = z
    out["gi_p"] = 2 * norm.sf(np.abs(z))
    out["gi_class"] = [significance_class(value) for value in z]
    return out


def hotspots(
    grids: gpd.GeoDataFrame,
    column: str,
    *,
    weights: sparse.spmatrix | None = None,
    tolerance_m: float = 0.5,
    min_cases: int = 5,
    min_total: int = 30,
    permutations: int = PERMUTATIONS,
    seed: int = SEED,
) -> gpd.GeoDataFrame:
    # Long: over 60 lines by its docstring (the method and an example); the code is short.
    """Which grids are hotspots of ``column``: Gi*, permutations, FDR and minimum counts.

    Parameters
    ----------
    grids : GeoDataFrame
        Polygons (e.g. the current grids) with a CRS; not modified.
    column : str
        Counts per grid, e.g. cases raised in the period.
    weights : sparse matrix, optional
        Binary ``n × n`` weights including the diagonal; default :func:`contiguity`.
    tolerance_m : float
        Passed to :func:`contiguity`.
    min_cases : int
        A grid is hot only if its star neighbourhood (itself and its
        neighbours) holds at least this many.
    min_total : int
        Below this many in all the grids, no grid is hot.
    permutations : int
        Conditional permutations per grid (the p-value's floor is
        ``1 / (permutations + 1)``).
    seed : int
        Seed of the permutations: the same input gives the same answer.

    Returns
    -------
    GeoDataFrame
        A copy with ``gi_z`` (analytical z), ``gi_p`` (one-sided permutation
        p for a hot spot; permuted sums equal to the observed one count as
        at least as extreme, so ties never make a grid look hot),
        ``star_cases`` and ``gi_class``: ``hot_99``, ``hot_95`` or
        ``hot_90`` when ``gi_p`` passes the FDR cut at 1 %, 5 % or 10 %
        across all the grids and both minimums hold, else ``not_significant``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = gpd.GeoDataFrame({"n": [0] * 100},
    ...     geometry=[box(i % 10, i // 10, i % 10 + 1, i // 10 + 1) for i in range(100)], crs=3857)
    >>> cells.loc[[33, 34, 35, 43, 44, 45, 53, 54, 55], "n"] = 6  # a 3 × 3 cluster
    >>> found = hotspots(cells, "n")
    >>> found.loc[[44, 0], "gi_class"].tolist()
    ['hot_95', 'not_significant']
    >>> cells["n"] = 0
    >>> cells.loc[[3, 77], "n"] = 4
    >>> (hotspots(cells, "n")["gi_class"] == "not_significant").all()
    np.True_
    """
    out = grids.copy()
    x = np.asarray(grids[column], dtype=float)
    n = len(x)
    w = None
    if n:
        w = contiguity(grids, tolerance_m=tolerance_m) if weights is None else sparse.csr_matrix(weights)
    star_cases = np.asarray(w @ x).ravel() if w is not None else np.zeros(0)
    z, p = np.zeros(n), np.ones(n)
    classes = np.full(n, "not_significant", dtype=object)
    if n >= 3 and x.std() > 0:
        g = _g_local(x, w, permutations, seed)
        z = np.nan_to_num(np.asarray(g.Zs, dtype=float))
        observed = np.asarray(g.Gs, dtype=float)[:, None]
        at_least = (np.asarray(g.rGs) >= observed - 1e-9 * np.abs(observed)).sum(axis=1)
        p = (at_least + 1) / (permutations + 1)
        if x.sum() >= min_total:
            eligible = star_cases >= min_cases
            for name, rate in reversed(FDR_LEVELS):  # strictest last, so it wins
                classes[eligible & (p <= fdr(p, rate))] = name
    out["gi_z"] = z
    out["gi_p"] = p
    out["star_cases"] = star_cases.astype(int) if n else np.zeros(0, dtype=int)
    out["gi_class"] = classes
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
