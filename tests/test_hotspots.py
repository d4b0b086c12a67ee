"""Getis-Ord Gi* over grid polygons."""

from __future__ import annotations

import doctest

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

import geo.hotspots
from geo.hotspots import contiguity, getis_ord_gi_star, significance_class


def lattice(values: np.ndarray, crs=3857, size=100.0) -> gpd.GeoDataFrame:
    rows, cols = values.shape
    cells = [box(c * size, r * size, (c + 1) * size, (r + 1) * size) for r in range(rows) for c in range(cols)]
    return gpd.GeoDataFrame({"n": values.ravel()}, geometry=cells, crs=crs)


def reference_gi_star(x: np.ndarray, neighbours: list[set[int]]) -> np.ndarray:
    """Textbook Gi* with loops, binary weights including self."""
    n = len(x)
    mean = x.mean()
    s = np.sqrt((x**2).sum() / n - mean**2)
    out = []
    for i in range(n):
        w = np.array([1.0 if (j == i or j in neighbours[i]) else 0.0 for j in range(n)])
        num = (w * x).sum() - mean * w.sum()
        den = s * np.sqrt((n * (w**2).sum() - w.sum() ** 2) / (n - 1))
        out.append(num / den)
    return np.array(out)


def test_queen_contiguity_on_a_lattice():
    w = contiguity(lattice(np.zeros((3, 3)))).toarray()
    assert w.diagonal().all()
    assert w.sum(axis=1)[4] == 9  # centre: itself and 8 queen neighbours
    assert w.sum(axis=1)[0] == 4  # corner: itself and 3
    assert (w == w.T).all()


def test_matches_the_textbook_formula():
    rng = np.random.default_rng(7)
    values = rng.poisson(3, size=(6, 7)).astype(float)
    grids = lattice(values)
    w = contiguity(grids).toarray()
    neighbours = [set(np.flatnonzero(row)) - {i} for i, row in enumerate(w)]
    result = getis_ord_gi_star(grids, "n")
    np.testing.assert_allclose(result["gi_z"], reference_gi_star(values.ravel(), neighbours), rtol=1e-10)
    assert ((result["gi_p"] > 0) & (result["gi_p"] <= 1)).all()


def test_cluster_is_hot_and_the_input_is_not_modified():
    values = np.zeros((8, 8))
    values[1:4, 1:4] = 10
    grids = lattice(values)
    before = grids.copy()
    result = getis_ord_gi_star(grids, "n")
    centre = 2 * 8 + 2
    assert result.loc[centre, "gi_class"] == "hot_99"
    assert result.loc[63, "gi_class"] in ("not_significant", "cold_90", "cold_95", "cold_99")
    assert "gi_z" not in grids.columns
    assert grids.equals(before)


def test_geographic_input_is_projected_for_the_tolerance():
    values = np.arange(9, dtype=float).reshape(3, 3)
    grids = lattice(values, crs=4326, size=0.001)
    grids = grids.set_geometry(grids.geometry.translate(118.6, 24.9))
    assert contiguity(grids).toarray().sum(axis=1)[4] == 9


@pytest.mark.parametrize("values", [np.zeros((3, 3)), np.ones((1, 2))])
def test_no_variation_or_too_few_cells_is_not_significant(values):
    result = getis_ord_gi_star(lattice(values), "n")
    assert (result["gi_z"] == 0).all()
    assert (result["gi_class"] == "not_significant").all()


def test_significance_classes():
    assert significance_class(2.6) == "hot_99"
    assert significance_class(-2.0) == "cold_95"
    assert significance_class(1.7) == "hot_90"
    assert significance_class(1.6) == "not_significant"


def test_doctest():
    assert doctest.testmod(geo.hotspots).failed == 0
