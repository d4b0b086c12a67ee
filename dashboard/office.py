"""The admin page's district steps: readiness, map layers, grids from the stored shops or a file.

Each calls the job the matching ``linpu`` command runs, with the admin as the
actor of the admin log; uploads are written to a private temporary file
because the map readers (GDAL, the OSM reader) read from a path.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from dashboard.context import engine
from dashboard.data import bump_epoch
from governance.permissions import require_admin
from pipelines import district, grids_store, office


def status():
    return office.status(engine())


def import_district_layer(viewer, payload: bytes, name: str, *, layer: str, coords: str, lang: str):
    require_admin(viewer, "import the district's map")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(name).name
        path.write_bytes(payload)
        report = district.import_district(engine(), path, layer=layer, coords=coords, language=lang, actor=viewer.username)
    bump_epoch()
    return report


def build_grids(viewer, *, target: int, min_size: int, max_size: int, update: bool):
    require_admin(viewer, "build and adopt grids")
    result = grids_store.save_grids(engine(), target=target, min_size=min_size, max_size=max_size, update=update,
                        actor=viewer.username)
    bump_epoch()
    return result


def adopt_grid_file(viewer, payload: bytes, name: str):
    require_admin(viewer, "adopt official grids")
    report = grids_store.import_grids(engine(), payload, name=name, actor=viewer.username)
    if report.written:
        bump_epoch()
    return report


def grid_roster():
    return office.grid_roster(engine())
