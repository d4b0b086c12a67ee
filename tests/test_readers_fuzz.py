"""Fuzzing every ingest format through the ``linpu ingest`` command (issue 7).

Random bytes and mutated valid files (CSV, XLSX, GeoJSON, GeoPackage, zipped
Shapefile) go through ``linpu ingest shops`` in-process, exactly as a user
runs it.  Every run must end with exit code 0 or 1 (never a traceback,
never another exception); a refused file (exit 1) must say why on stderr and
leave the database exactly as it was.  A mutation that happens to stay valid
may be ingested (exit 0); the baseline is then taken afresh.  Pure random
bytes are always refused.  A seeded random loop keeps runs reproducible and
bounded (a count and a time budget per format).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from governance.settings import get_settings
from pipelines.commands.root import main
from tests.test_ingest_shops import _upload, database_url, seed_district, snapshot

RUNS = int(os.environ.get("LINPU_FUZZ_RUNS", "80"))
BUDGET_S = float(os.environ.get("LINPU_FUZZ_SECONDS", "8"))
FORMATS = {"csv": "shops.csv", "xlsx": "shops.xlsx", "geojson": "shops.geojson", "gpkg": "shops.gpkg",
           "shp-zip": "shops.zip"}
NASTY = [b"", b"\x00", b"\xff\xfe", b'"', b",", b"\n", b"\r", b"NaN", b"inf", b"-1e309", b"1e309",
         b"\xe4\xb8\xad", b"<script>", b"' OR '1'='1", b"{", b"}", b"[", b"null", b"9" * 40, b"\t",
         b"/vsicurl/http://127.0.0.1/x", b"..\\..\\", b"\xed\xa0\x80"]


@pytest.fixture
def run(monkeypatch):
    def invoke(url: str, *args):
        monkeypatch.setenv("LINPU_DATABASE_URL", url)
        get_settings.cache_clear()
        result = CliRunner().invoke(main, [str(a) for a in args])
        get_settings.cache_clear()
        return result

    yield invoke
    get_settings.cache_clear()


def _runs(engine) -> int:
    return RUNS if engine.dialect.name == "sqlite" else max(5, RUNS // 4)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three byte-level or token-level changes."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(7)
        pos = rng.randrange(len(out) + 1) if out else 0
        if op == 0 and out:  # flip bits
            out[min(pos, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:  # truncate
            del out[pos:]
        elif op == 2:  # insert a nasty token
            out[pos:pos] = rng.choice(NASTY)
        elif op == 3 and out:  # overwrite a run with random bytes
            n = rng.randint(1, 64)
            out[pos:pos + n] = bytes(rng.randrange(256) for _ in range(n))
        elif op == 4 and out:  # duplicate a chunk
            n = rng.randint(1, 200)
            out[pos:pos] = out[max(0, pos - n):pos]
        elif op == 5 and out:  # delete a chunk
            del out[pos:pos + rng.randint(1, 200)]
        else:  # zero a run (corrupts zip and SQLite pages more gently)
            n = rng.randint(1, 32)
            out[pos:pos + n] = b"\x00" * min(n, len(out) - pos)
    return bytes(out)


def _check(result, before, after, label: str) -> bool:
    """Assert the run ended cleanly; return True when the file was refused."""
    text = result.output + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (label, repr(result.exception))
    assert "Traceback" not in text, label
    assert result.exit_code in (0, 1), (label, result.exit_code, text[-500:])
    if result.exit_code == 1:
        assert result.stderr.strip(), f"{label}: refused without a message"
        assert after == before, f"{label}: a refused file changed the database"
        return True
    return False


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_mutated_valid_files_are_refused_cleanly_or_ingested(engine, run, tmp_path, fmt):
    seed_district(engine)
    url = database_url(engine)
    kind = "csv-utf8-bom" if fmt == "csv" else fmt
    valid, _ = _upload(kind, tmp_path)
    name = FORMATS[fmt]
    path = tmp_path / name
    path.write_bytes(valid)
    first = run(url, "ingest", "shops", path, "--dry-run")
    assert first.exit_code == 0, first.stderr  # the seed itself is valid
    rng = random.Random(f"linpu-fuzz-{fmt}")
    before = snapshot(engine)
    refused = 0
    deadline = time.monotonic() + BUDGET_S
    # The parsers are the same on both backends; PostGIS re-checks the rollback with fewer runs.
    for i in range(_runs(engine)):
        if time.monotonic() > deadline:
            break
        data = mutate(valid, rng)
        path.write_bytes(data)
        result = run(url, "ingest", "shops", path, "--quiet")
        after = snapshot(engine)
        refused += _check(result, before, after, f"{fmt} mutation {i}")
        before = after
    assert refused > 0


@pytest.mark.parametrize("name", [*FORMATS.values(), "noext", "shops.txt", "shops.json"])
def test_random_bytes_are_refused_with_a_message_and_change_nothing(engine, run, tmp_path, name):
    seed_district(engine)
    url = database_url(engine)
    rng = random.Random(f"linpu-random-{name}")
    before = snapshot(engine)
    path = tmp_path / name
    for i in range(max(3, _runs(engine) // 4)):
        size = rng.choice([1, 7, 100, 4096])
        head = rng.choice([b"", b"PK\x03\x04", b"SQLite format 3\x00", b"{", b"shop_id,name,lon,lat\n"])
        path.write_bytes(head + bytes(rng.randrange(256) for _ in range(size)))
        result = run(url, "ingest", "shops", path, "--quiet")
        assert _check(result, before, snapshot(engine), f"{name} random {i}"), "random bytes were accepted"


@pytest.mark.parametrize("kind", ["cases", "checks"])
def test_field_exports_fuzzed_are_refused_cleanly(engine, run, tmp_path, kind):
    seed_district(engine)
    url = database_url(engine)
    header = {"cases": b"case_id,category,severity,title,lon,lat,created_at\n",
              "checks": b"shop_id,category,performed_at,inspector,gas_alarm\n"}[kind]
    rng = random.Random(f"linpu-field-{kind}")
    before = snapshot(engine)
    path = tmp_path / f"{kind}.csv"
    for i in range(max(3, _runs(engine) // 3)):
        body = mutate(header + b"X1,gas,high,t,118.9,25.1,2026-11-20\n", rng)
        path.write_bytes(body + bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))))
        result = run(url, "ingest", kind, path, "--quiet")
        _check(result, before, snapshot(engine), f"{kind} {i}")


def test_a_missing_file_or_a_directory_is_a_usage_error(engine, run, tmp_path):
    url = database_url(engine)
    for target in (tmp_path / "missing.csv", tmp_path):
        result = run(url, "ingest", "shops", target)
        assert result.exit_code == 2 and "Traceback" not in result.output + result.stderr


FUZZ = Path(__file__).with_name("data") / "fuzz"


def test_a_zipped_shapefile_with_a_corrupt_prj_is_refused_with_a_message(engine, run):
    """Found by the fuzzer (shp-zip mutation 520, seed 'linpu-fuzz-shp-zip'): a damaged .prj.

    Was a pyproj.ProjError traceback from pipelines/validation.py ``_to_4326``; fixed in d727851.
    """
    seed_district(engine)
    before = snapshot(engine)
    result = run(database_url(engine), "ingest", "shops", FUZZ / "shp_zip_mutation_520.zip", "--quiet")
    assert _check(result, before, snapshot(engine), "corrupt .prj")
    assert "shp_zip_mutation_520.zip" in result.stderr
