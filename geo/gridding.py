"""Balanced, compact, stable grids of about ten neighbouring shops (十邻铺).

How it works. Shops at one spot (within 0.1 m) form one *location*, weighted
by its number of shops. The Voronoi cells of the locations tile the district;
two locations are neighbours when their cells share a border inside it. METIS
partitions this graph into parts of about ``target`` shops, large inputs tile
by tile (tiles cut at multiples of ``target`` shops, so the work stays
linear). An edge weighs the length of the border its two cells share, so the
cut METIS minimises is the total border between grids: the shortest borders
for the sizes asked make the most compact grids. Local repairs then put every
grid within ``[min_size, max_size]``, and a grid's polygon is the union of its
locations' cells clipped to the district: the polygons cover it without gap
or overlap, each is one piece, and every shop lies inside its own grid.

Rules where the practice leaves a choice:

- **Malls and markets.** A location holding more than ``max_size`` shops (one
  coordinate for a whole mall) becomes a grid of its own, flagged
  ``building=True``. It is the only kind of grid allowed above ``max_size``,
  and :func:`grid_quality` counts it apart. When the shops cannot make grids
  within bounds at all (13 shops for grids of 8 to 12), the odd grid is kept,
  a warning names it and the quality report lists it: never a silent
  overflow. The same holds for a pocket of shops cut off from all others
  (enclosed by a mall's area, across a river hole) and too small for a grid:
  it becomes an undersized grid of its own rather than half of a grid in two
  pieces that no leader can walk as one.
- **Locations.** Shops less than 10 cm apart (in a chain) share a location:
  one entrance, always one grid. Each distinct point is a Voronoi site and a
  location's area is the union of its sites' cells, so every shop lies inside
  its own grid with centimetres to spare.
- **Codes.** ``G001``, ``G002``, ... (``prefix`` + a zero-padded serial of at
  least three digits) in reading order of the map, the way Chinese unit-grid
  codes run: rows from north to south, west to east within a row, by the
  centre of each grid's shops; a row is a band as tall as a typical grid.
  :func:`update_grids` never renumbers: a grid keeps its code, new grids take
  the next free serial, the codes of merged grids are retired.
- **Streets.** A graph edge that crosses a ``main`` road is cut before
  partitioning, unless the pieces on either side are too small to make grids
  of their own; crossing a ``street`` makes an edge 20 % lighter; ``lane``
  (alleys a grid leader walks through) changes nothing.
- **Holes.** Locations whose cells touch only outside the district (across a
  river with a hole in the boundary, around a concave edge) are not
  neighbours, so no grid spans them.
- **Precision.** Polygons are snapped to a millimetre grid in the metric CRS
  (so are boundaries when measured), which keeps them valid through a
  round trip to degrees.

Where it lives. This module is the public face of the gridding; the work is
done in :mod:`geo.grid_build` (new grids) and :mod:`geo.grid_update` (repairs
after shops opened and closed), from :mod:`geo.grid_inputs` (checked inputs),
:mod:`geo.locations` (shops grouped into locations and their neighbour graph),
:mod:`geo.partition` (METIS), :mod:`geo.repair` (size repair),
:mod:`geo.tiling` (who runs the independent tiles: this process by default,
Dask workers from ``linpu grids build``),
:mod:`geo.voronoi` (polygons), :mod:`geo.grid_codes` (codes) and
:mod:`geo.quality` (the figures of a gridding).

Examples
--------
Twenty shops along one street make two grids; three close, and the two
grids even out rather than one falling below eight shops:

>>> import geopandas as gpd, shapely
>>> street = gpd.GeoSeries([shapely.Point(118.9 + i * 1e-4, 25.1) for i in range(20)], crs=4326)
>>> grids, _ = build_grids(gpd.GeoDataFrame(geometry=street))
>>> new, _, changes = update_grids(grids, gpd.GeoDataFrame(geometry=street.iloc[3:]))
>>> grids.n_shops.tolist(), new.n_shops.tolist(), changes.rebalanced
([10, 10], [9, 8], [('G001', 'G002')])
"""

from __future__ import annotations

from geo.errors import GriddingError
from geo.grid_build import build_grids
from geo.grid_update import GridChanges, update_grids
from geo.metric import metric_crs
from geo.quality import grid_quality

__all__ = [
    "GridChanges",
    "GriddingError",
    "build_grids",
    "grid_quality",
    "metric_crs",
    "update_grids",
]
