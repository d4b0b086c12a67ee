"""What scripts see from linpu ingest: --json, --quiet, exit codes 0/1/2, no tracebacks."""

from __future__ import annotations

import json

from tests import test_ingest_shops as shop_tests
from tests.test_ingest_shops import BAD, GOOD_SHOPS, database_url

cli = shop_tests.cli


def test_json_report_for_a_good_and_a_refused_file(engine, cli):
    url = database_url(engine)
    good = cli(url, "ingest", "shops", GOOD_SHOPS, "--json")
    assert good.exit_code == 0
    report = json.loads(good.stdout)  # stdout is the JSON alone; no "database:" line mixed in
    assert report["counts"]["opened"] == 20 and report["written"] and not report["refused"]
    bad = cli(url, "ingest", "shops", BAD / "duplicate_ids.csv", "--json")
    assert bad.exit_code == 1
    refused = json.loads(bad.stdout)
    assert refused["refused"] and not refused["written"]
    assert refused["problems"][0] == {"row": 3, "field": "shop_id", "message": "'YJ0002' is repeated on row 5"}


def test_quiet_keeps_the_problems_and_the_summary_only(engine, cli):
    result = cli(database_url(engine), "ingest", "shops", BAD / "swapped_coordinates.csv", "--quiet")
    assert result.exit_code == 1
    assert "database:" not in result.stderr and "note:" not in result.stderr
    assert "row 2 field lon" in result.stderr
    assert result.stdout.strip().endswith("file refused, nothing written (fix the rows or use --skip-invalid)")


def test_usage_errors_exit_2(engine, cli, tmp_path):
    url = database_url(engine)
    assert cli(url, "ingest", "shops", GOOD_SHOPS, "--coords", "mars").exit_code == 2
    assert cli(url, "ingest", "shops", tmp_path / "missing.csv").exit_code == 2
    assert cli(url, "ingest", "lorries", GOOD_SHOPS).exit_code == 2
    bad_crs = cli(url, "ingest", "shops", GOOD_SHOPS, "--crs", "EPSG:0")
    assert bad_crs.exit_code == 2 and "--crs 'EPSG:0' is not a CRS" in bad_crs.stderr
