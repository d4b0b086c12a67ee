"""pipelines.export.write_layers: every format, read back by GDAL's own ogrinfo.

ogrinfo (Debian ``gdal-bin``) is an independent reader: it is not the GDAL
inside pyogrio's wheel that wrote the files. Tests that need it are skipped
only when it is not installed (.ci/run installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import geopandas as gpd
import pyarrow.parquet as pq
import pytest
import shapely
from pyproj import CRS

from governance.errors import ConfigurationError
from pipelines.export import FORMATS, ExportError, write_layers

OGRINFO = shutil.which("ogrinfo")
needs_ogrinfo = pytest.mark.skipif(OGRINFO is None, reason="GDAL's ogrinfo (gdal-bin) is not installed")


def sample_layers() -> dict[str, gpd.GeoDataFrame]:
    grids = gpd.GeoDataFrame(
        {
            "code": ["G001", "G002", "G003"],
            "n_shops": [10, 9, 11],
            "median_days_to_close": [1.5, None, 3.0],
            "median_days_to_open": [1.0, 2.0, 0.5],
            "worst_state": ["warning", "closed", "in_progress"],
            "rankable": [True, False, True],
        },
        geometry=[shapely.box(118.90 + i * 0.001, 25.12, 118.901 + i * 0.001, 25.121) for i in range(3)],
        crs=4326,
    )
    shops = gpd.GeoDataFrame(
        {
            "shop_code": ["YJ0001", "YJ0002"],
            "name": ["黄记超市", "拾光裁缝铺, \"老店\""],
            "badges": [[], ["model_shop", "trusted_shop"]],
            "opened_at": [datetime(2026, 1, 1, 8, tzinfo=UTC), datetime(2026, 2, 1, 8, tzinfo=UTC)],
        },
        geometry=[shapely.Point(118.9003603, 25.1167322), shapely.Point(118.8999275, 25.1170355)],
        crs=4326,
    )
    return {"grids": grids, "shops": shops}


def ogr_layers(path: Path) -> dict[str, tuple[int, CRS | None]]:
    """Layer name → (feature count, CRS) as ogrinfo reports them."""
    target = f"/vsizip/{path}" if path.suffix == ".zip" else str(path)
    result = subprocess.run([OGRINFO, "-ro", "-so", "-al", target], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    layers = {}
    for block in result.stdout.split("Layer name: ")[1:]:
        name = block.splitlines()[0].strip()
        count = int(re.search(r"Feature Count: (\d+)", block).group(1))
        wkt = re.search(r"Layer SRS WKT:\n(.*?)\n(?:Data axis|[A-Za-z_]+: )", block, re.S)
        layers[name] = (count, CRS.from_wkt(wkt.group(1)) if wkt else None)
    return layers


def same_crs(found: CRS | None, epsg: int) -> bool:
    # GDAL's CSV driver reads a .prj without looking its EPSG code up again, so
    # the name (plus datum and projection, below) is what identifies it there.
    if found is None:
        return False
    target = CRS.from_epsg(epsg)
    if found.to_epsg(min_confidence=70) == epsg:
        return True
    return found.name == target.name and found.datum.name == target.datum.name


@needs_ogrinfo
@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "parquet"])
@pytest.mark.parametrize("epsg", [4326, 4549])
def test_ogrinfo_reads_every_format_with_counts_and_crs(tmp_path, fmt, epsg):
    if fmt == "kml" and epsg != 4326:
        pytest.skip("KML is WGS84 only (tested below)")
    layers = sample_layers()
    result = write_layers(layers, fmt, tmp_path / "out", crs=f"EPSG:{epsg}")
    assert result.crs == f"EPSG:{epsg}"
    if fmt == "gpkg":
        assert result.paths == [tmp_path / "out.gpkg"]  # the extension is added when missing
        found = ogr_layers(tmp_path / "out.gpkg")
        assert {name: count for name, (count, _) in found.items()} == {"grids": 3, "shops": 2}
        assert all(same_crs(crs, epsg) for _, crs in found.values())
        return
    for name, frame in layers.items():
        path = tmp_path / "out" / (name + FORMATS[fmt][1])
        assert path in result.paths
        [(count, crs)] = ogr_layers(path).values()
        assert count == len(frame)
        assert same_crs(crs, epsg), (fmt, crs)


@pytest.mark.parametrize("epsg", [4326, 4549])
def test_geoparquet_declares_its_crs_and_rows(tmp_path, epsg):
    # Debian's GDAL 3.6 has no Parquet driver: read the GeoParquet metadata with pyarrow.
    path = tmp_path / "grids.parquet"
    write_layers({"grids": sample_layers()["grids"]}, "parquet", path, crs=f"EPSG:{epsg}")
    table = pq.read_table(path)
    assert table.num_rows == 3
    meta = __import__("json").loads(table.schema.metadata[b"geo"])
    column = meta["columns"][meta["primary_column"]]
    assert CRS.from_json_dict(column["crs"]).to_epsg() == epsg if "crs" in column else epsg == 4326
    if OGRINFO and "Parquet" in subprocess.run([OGRINFO, "--formats"], capture_output=True, text=True).stdout:
        [(count, crs)] = ogr_layers(path).values()
        assert count == 3 and same_crs(crs, epsg)


def test_csv_is_utf8_with_bom_wkt_geometry_and_a_prj(tmp_path):
    path = tmp_path / "shops.csv"
    result = write_layers({"shops": sample_layers()["shops"]}, "csv", path)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("WKT,")
    assert "POINT (118.9003603 25.1167322)" in text and "黄记超市" in text
    assert "model_shop;trusted_shop" in text and "2026-01-01T16:00:00+08:00" in text
    assert path.with_suffix(".prj") in result.paths
    assert CRS.from_wkt(path.with_suffix(".prj").read_text()).to_epsg() == 4326


def test_shapefile_zip_holds_its_parts_and_the_field_name_note(tmp_path):
    path = tmp_path / "grids.shp.zip"
    result = write_layers({"grids": sample_layers()["grids"]}, "shp", path)
    names = zipfile.ZipFile(path).namelist()
    assert {"grids.shp", "grids.shx", "grids.dbf", "grids.prj", "grids.cpg", "fields.txt"} <= set(names)
    listing = zipfile.ZipFile(path).read("fields.txt").decode()
    assert "median_day\tmedian_days_to_close" in listing and "median_da1\tmedian_days_to_open" in listing
    assert any("cut to 10" in note for note in result.notes)
    back = gpd.read_file(path)
    assert list(back["median_day"].round(1).fillna(-1)) == [1.5, -1, 3.0]


def test_shapefile_to_a_shp_path_writes_parts_and_fields_note_beside_it(tmp_path):
    result = write_layers({"grids": sample_layers()["grids"]}, "shp", tmp_path / "grids.shp")
    assert {p.name for p in result.paths} >= {"grids.shp", "grids.dbf", "grids.prj", "grids.fields.txt"}
    assert len(gpd.read_file(tmp_path / "grids.shp")) == 3


def test_geojson_is_rfc7946_in_wgs84_and_says_so_otherwise(tmp_path):
    plain = tmp_path / "a.geojson"
    write_layers({"grids": sample_layers()["grids"]}, "geojson", plain)
    assert '"crs"' not in plain.read_text()  # RFC 7946: WGS84 implied
    other = write_layers({"grids": sample_layers()["grids"]}, "geojson", tmp_path / "b.geojson", crs="EPSG:4549")
    assert '"crs"' in (tmp_path / "b.geojson").read_text()
    assert any("RFC 7946 allows only WGS84" in note for note in other.notes)


def test_kml_refuses_another_crs(tmp_path):
    with pytest.raises(ConfigurationError, match="KML is WGS84"):
        write_layers(sample_layers(), "kml", tmp_path / "x", crs="EPSG:4549")


def test_a_failed_export_leaves_the_earlier_file_alone(tmp_path):
    out = tmp_path / "layers.gpkg"
    write_layers(sample_layers(), "gpkg", out)
    before = out.read_bytes()
    broken = sample_layers()
    broken["shops"] = broken["shops"].set_crs(None, allow_override=True)
    with pytest.raises(ExportError, match="layer shops has no CRS"):
        write_layers(broken, "gpkg", out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["layers.gpkg"]  # no temporary left behind


def test_unknown_crs_is_a_usage_error(tmp_path):
    with pytest.raises(ConfigurationError, match="not a CRS"):
        write_layers(sample_layers(), "gpkg", tmp_path / "x.gpkg", crs="EPSG:99999999")


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "fgb", "csv"])
def test_a_column_of_mixed_values_is_exported_whole(tmp_path, fmt):
    """The writers go through Arrow, which cannot type a column of dates and words mixed
    (an office's free-form field, "2026-05-01" or "待定"): such a layer is still written,
    every value in it."""
    layers = sample_layers()
    layers["shops"]["note"] = [date(2026, 5, 1), "待定"]
    out = tmp_path / f"mixed.{fmt}"
    write_layers({"shops": layers["shops"]}, fmt, out)
    written = next(p for p in [out, out.with_suffix(".csv"), *tmp_path.iterdir()] if p.exists() and p.suffix != ".prj")
    back = gpd.read_file(written)
    assert sorted(back["note"].astype(str).str[:10]) == ["2026-05-01", "待定"]
    assert list(back["name"]) == ["黄记超市", "拾光裁缝铺, \"老店\""]
