"""Synthetic cities for the gridding benchmark and tests.

Shops stand along streets on both sides, thicken around a few dense centres,
and some share one coordinate: malls and markets (dozens of shops at one
point) and small multi-storey buildings (2-5 shops). Everything is derived
from ``seed``, so a benchmark run can be repeated exactly.

The city is laid out in CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549)
around Quangang, Quanzhou, and returned in WGS84 like real shop registers.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

METRIC_CRS = "EPSG:4549"
BLOCK_M = 100.0
MAIN_EVERY = 5
ORIGIN_LONLAT = (118.90, 25.10)


@dataclass(frozen=True)
class SyntheticCity:
    shops: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    boundary: gpd.GeoDataFrame
    n_malls: int


def make_city(
    n_shops: int,
    *,
    seed: int = 0,
    mall_share: float = 0.02,
    rotation_deg: float = 12.0,
    crs: str = "EPSG:4326",
) -> SyntheticCity:
    """Make a deterministic synthetic city with ``n_shops`` shops.

    Examples
    --------
    >>> city = make_city(2_000, seed=1)
    >>> len(city.shops), city.shops.crs.to_epsg()
    (2000, 4326)
    """
    rng = np.random.default_rng(seed)
    # About six shops per 100 m street segment on average keeps the density of
    # a busy Chinese commercial district; the city grows in area with n.
    blocks = max(3, int(np.ceil(np.sqrt(n_shops / 12.0))))
    side = blocks * BLOCK_M

    n_centres = max(1, blocks // 12)
    centres = rng.uniform(0.15 * side, 0.85 * side, size=(n_centres, 2))
    centre_sigma = max(3.0, blocks / (2.5 * np.sqrt(n_centres))) * BLOCK_M

    n_mall_shops = int(round(n_shops * mall_share))
    mall_sizes: list[int] = []
    while sum(mall_sizes) < n_mall_shops:
        mall_sizes.append(int(rng.integers(15, 81)))
    if mall_sizes:
        mall_sizes[-1] -= sum(mall_sizes) - n_mall_shops
        if mall_sizes[-1] < 13:
            n_mall_shops -= mall_sizes.pop()
    n_street_shops = n_shops - n_mall_shops

    street_xy = _street_positions(rng, n_street_shops, blocks, centres, centre_sigma)

    mall_xy = _mall_positions(rng, len(mall_sizes), blocks, centres, centre_sigma)
    xy = np.vstack([street_xy, np.repeat(mall_xy, mall_sizes, axis=0)])
    kind = np.array(["street"] * n_street_shops + ["mall"] * n_mall_shops, dtype=object)

    # A few shops share a building entrance with their neighbours.
    stacked = rng.random(n_street_shops) < 0.04
    donors = np.flatnonzero(stacked)
    if donors.size:
        xy[donors] = xy[np.maximum(donors - 1, 0)]

    angle = np.deg2rad(rotation_deg)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    to_metric = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    ox, oy = to_metric.transform(*ORIGIN_LONLAT)
    origin = np.array([ox, oy])

    def place(points: np.ndarray) -> np.ndarray:
        return (points - side / 2) @ rot.T + origin

    order = rng.permutation(len(xy))
    shop_xy = place(xy[order])
    shops = gpd.GeoDataFrame(
        {
            "shop_id": [f"S{i:07d}" for i in range(len(shop_xy))],
            "kind": kind[order],
        },
        geometry=shapely.points(shop_xy),
        crs=METRIC_CRS,
    )

    lines, classes = [], []
    for i in range(blocks + 1):
        cls = "main" if i % MAIN_EVERY == 0 else "street"
        for a, b in (
            ((i * BLOCK_M, 0.0), (i * BLOCK_M, side)),
            ((0.0, i * BLOCK_M), (side, i * BLOCK_M)),
        ):
            lines.append(place(np.array([a, b])))
            classes.append(cls)
    for i in range(blocks):
        mid = (i + 0.5) * BLOCK_M
        for a, b in (((mid, 0.0), (mid, side)), ((0.0, mid), (side, mid))):
            lines.append(place(np.array([a, b])))
            classes.append("lane")
    streets = gpd.GeoDataFrame(
        {"class": classes}, geometry=shapely.linestrings(lines), crs=METRIC_CRS
    )
    margin = 30.0
    corners = np.array(
        [
            [-margin, -margin],
            [side + margin, -margin],
            [side + margin, side + margin],
            [-margin, side + margin],
        ]
    )
    boundary = gpd.GeoDataFrame(
        {"name": ["synthetic city"]}, geometry=[shapely.Polygon(place(corners))], crs=METRIC_CRS
    )
    return SyntheticCity(
        shops=shops.to_crs(crs),
        streets=streets.to_crs(crs),
        boundary=boundary.to_crs(crs),
        n_malls=len(mall_sizes),
    )


def _density(xy: np.ndarray, centres: np.ndarray, sigma: float) -> np.ndarray:
    # One centre at a time: a (points x centres) array is gigabytes at 1M shops.
    nearest = np.full(len(xy), np.inf)
    for cx, cy in centres:
        np.minimum(nearest, (xy[:, 0] - cx) ** 2 + (xy[:, 1] - cy) ** 2, out=nearest)
    return 0.15 + np.exp(-nearest / (2 * sigma**2))


def _street_positions(
    rng: np.random.Generator,
    n: int,
    blocks: int,
    centres: np.ndarray,
    sigma: float,
) -> np.ndarray:
    side = blocks * BLOCK_M
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        batch = min(max(1024, 2 * (n - got)), 500_000)
        line = rng.integers(0, blocks + 1, size=batch)
        vertical = rng.random(batch) < 0.5
        along = rng.uniform(0, side, size=batch)
        # Shop fronts stand 6-12 m off the centre line, on either side.
        offset = rng.uniform(6.0, 12.0, size=batch) * np.where(rng.random(batch) < 0.5, -1, 1)
        across = line * BLOCK_M + offset
        xy = np.where(vertical[:, None], np.c_[across, along], np.c_[along, across])
        keep = rng.random(batch) * 1.15 < _density(xy, centres, sigma)
        keep &= (xy >= 0).all(axis=1) & (xy <= side).all(axis=1)
        out.append(xy[keep])
        got += int(keep.sum())
    return np.vstack(out)[:n]


def _mall_positions(
    rng: np.random.Generator, count: int, blocks: int, centres: np.ndarray, sigma: float
) -> np.ndarray:
    if count == 0:
        return np.empty((0, 2))
    pick = rng.integers(0, len(centres), size=count)
    xy = centres[pick] + rng.normal(0, sigma * 0.6, size=(count, 2))
    # Malls sit inside blocks, away from the street fronts.
    cell = np.clip(np.floor(xy / BLOCK_M), 0, blocks - 1)
    return (cell + rng.uniform(0.3, 0.7, size=(count, 2))) * BLOCK_M
