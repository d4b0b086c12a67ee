"""Honest hotspots: Gi* with permutations, an FDR cut and stated minimums (issue 21)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.hotspots import hotspots
from governance.db import make_engine
from governance.settings import get_settings
from pipelines.export import export_layers


def lattice(rows: int, cols: int) -> gpd.GeoDataFrame:
    cells = [box(c * 100.0, r * 100.0, (c + 1) * 100.0, (r + 1) * 100.0) for r in range(rows) for c in range(cols)]
    return gpd.GeoDataFrame({"cases": np.zeros(rows * cols, dtype=int)}, geometry=cells, crs=3857)


def planted(rows=15, cols=15, *, seed=3) -> gpd.GeoDataFrame:
    """A quiet background (about one case in five grids) and a 3 × 3 block of 8 cases each."""
    grids = lattice(rows, cols)
    grids["cases"] = np.random.default_rng(seed).poisson(0.2, rows * cols)
    for r in (6, 7, 8):
        for c in (6, 7, 8):
            grids.loc[r * cols + c, "cases"] = 8
    return grids


def hot(found: gpd.GeoDataFrame) -> set[int]:
    return set(found.index[found["gi_class"].astype(str).str.startswith("hot")])


def test_a_sparse_day_finds_no_hotspot():
    # The demo day: 12 cases over 35 grids, bunched in a corner.
    grids = lattice(5, 7)
    grids.loc[[0, 1, 7, 8], "cases"] = [4, 3, 3, 2]
    found = hotspots(grids, "cases")
    assert hot(found) == set()
    # Permutations alone would call the corner hot: the period minimum is what says "too few".
    assert hot(hotspots(grids, "cases", min_total=0, min_cases=0))


def test_nine_scattered_cases_over_225_grids_make_no_hotspot_even_without_the_period_minimum():
    # Ties in sparse counts: single cases far apart; their stars hold fewer than five.
    grids = lattice(15, 15)
    grids.loc[[16, 48, 80, 112, 144, 176, 208, 4, 220], "cases"] = 1
    assert hot(hotspots(grids, "cases", min_total=0)) == set()


def test_a_planted_cluster_is_found_and_nothing_far_from_it():
    grids = planted()
    found = hotspots(grids, "cases")
    centre = 7 * 15 + 7
    assert found.loc[centre, "gi_class"] in ("hot_99", "hot_95")
    assert hot(found) and all(abs(i // 15 - 7) <= 2 and abs(i % 15 - 7) <= 2 for i in hot(found))
    assert (found.loc[list(hot(found)), "star_cases"] >= 5).all()


def test_the_same_input_and_seed_give_the_same_answer():
    first, second = hotspots(planted(), "cases"), hotspots(planted(), "cases")
    np.testing.assert_array_equal(first["gi_p"], second["gi_p"])
    assert first["gi_class"].tolist() == second["gi_class"].tolist()


def test_a_neighbourhood_below_the_minimum_is_not_called_hot():
    grids = planted()
    assert hot(hotspots(grids, "cases", min_cases=5))
    assert hot(hotspots(grids, "cases", min_cases=73)) == set()  # the centre's star holds 72


def test_tied_empty_grids_are_never_significant():
    # Sparse counts tie with almost every permutation: an empty neighbourhood must not look extreme.
    found = hotspots(planted(), "cases")
    empty = found["star_cases"] == 0
    assert empty.any() and (found.loc[empty, "gi_p"] == 1).all()


def test_the_input_is_not_modified():
    grids = planted()
    before = grids.copy()
    hotspots(grids, "cases")
    assert grids.equals(before)


@pytest.fixture
def min_cases(monkeypatch):
    def use(value: int) -> None:
        monkeypatch.setenv("LINPU_HOTSPOT_MIN_CASES", str(value))
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def test_the_export_names_the_method_and_the_thresholds_from_the_setting(demo_database, tmp_path, min_cases):
    min_cases(100_000)
    engine = make_engine(demo_database)
    result = export_layers(engine, layers=["hotspots"], fmt="csv", out=tmp_path / "hot.csv")
    engine.dispose()
    frame = pd.read_csv(result.paths[0], encoding="utf-8-sig")
    assert (frame["min_cases"] == 100_000).all() and (frame["min_period_cases"] == 30).all()
    assert frame["method"].str.contains("esda.G_Local").all() and frame["method"].str.contains("FDR").all()
    assert (frame["gi_class"] == "not_significant").all()
    assert (frame["period_cases"] == frame["cases"].sum()).all()
