"""linpu db backup|restore on SQLite and PostGIS: a copy while the app writes, refusals, verification."""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
import uuid

import pytest
from sqlalchemy import func, make_url, select, text

from governance import admin_log
from governance.attachments import attachment_root
from governance.db import make_engine, transaction
from governance.migrate import head_revision, upgrade
from governance.models import AdminLogEntry, Attachment, Case, Grid, User
from governance.permissions import viewer_for
from governance.settings import get_settings
from governance.workflow import file_case
from pipelines.backup import BackupError, backup, restore
from tests import test_ingest_shops as shop_tests
from tests.conftest import POSTGIS_URL
from tests.test_ingest_shops import database_url, seed_district

cli = shop_tests.cli


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PHOTO = _png()


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    folder = tmp_path / "var"
    monkeypatch.setenv("LINPU_VAR_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def _with_a_photo(engine, cli, tmp_path) -> str:
    """The seeded district, two accounts and a case with one photo; the photo's hash."""
    seed_district(engine)
    source = tmp_path / "a.csv"
    source.write_text("username,display_name,role,grids\nwang,王五,grid_leader,G001\nzhao,赵六,supervisor,\n",
                      encoding="utf-8")
    cli(database_url(engine), "users", "import", source, "--passwords-out", tmp_path / "p.csv")
    with transaction(engine) as session:
        point = session.scalar(select(Grid.geometry).where(Grid.code == "G001")).representative_point()
        file_case(session, viewer_for(session, "wang"), kind="patrol", category="fire_exit", severity="high",
                  title="通道堵塞", lon=point.x, lat=point.y, attachments=[("exit.png", "image/png", PHOTO)])
        return session.scalar(select(Attachment.sha256))


def _counts(engine) -> dict:
    with transaction(engine) as session:
        return {"users": session.scalar(select(func.count()).select_from(User)),
                "cases": session.scalar(select(func.count()).select_from(Case))}


def test_backup_then_restore_into_an_emptied_database_gives_back_rows_and_photos(engine, cli, tmp_path, var_dir):
    digest = _with_a_photo(engine, cli, tmp_path)
    before = _counts(engine)
    out = tmp_path / "backup-1"
    result = cli(database_url(engine), "db", "backup", out)
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema_revision"] == head_revision() and manifest["rows"]["cases"] == 1
    assert manifest["rows"]["users"] == 2 and list(manifest["photos"]) == [digest]
    assert (out / "photos" / digest[:2] / digest).read_bytes() == PHOTO
    with transaction(engine) as session:
        logged = session.execute(select(AdminLogEntry.actor, AdminLogEntry.action, AdminLogEntry.target,
                                        AdminLogEntry.rows, AdminLogEntry.detail)
                                 .order_by(AdminLogEntry.id.desc())).first()
    assert tuple(logged) == (admin_log.shell_actor(), "backup", str(out), sum(manifest["rows"].values()),
                             "1 photos")

    # Into a database that holds data: refused without --replace, nothing changed.
    refused = cli(database_url(engine), "db", "restore", out)
    assert refused.exit_code == 1 and "--replace" in refused.stderr
    # The photo store lost, a case added after the backup: --replace brings back the backup's state.
    shutil.rmtree(attachment_root())
    with transaction(engine) as session:
        session.execute(Case.__table__.update().values(title="changed after the backup"))
    restored = cli(database_url(engine), "db", "restore", out, "--replace")
    assert restored.exit_code == 0, restored.stderr
    assert "restored and verified" in restored.stdout
    assert _counts(engine) == before
    with transaction(engine) as session:
        assert session.scalar(select(Case.title)) == "通道堵塞"
        actions = session.scalars(select(AdminLogEntry.action).order_by(AdminLogEntry.id)).all()
    # The log as it was at the backup, then the restore (the backup's own entry follows its copy).
    assert actions == ["accounts_created", "restore"]
    assert (attachment_root() / digest[:2] / digest).read_bytes() == PHOTO


def test_a_backup_that_does_not_match_its_manifest_is_refused(engine, cli, tmp_path, var_dir):
    digest = _with_a_photo(engine, cli, tmp_path)
    out = tmp_path / "backup-2"
    backup(engine, out)
    assert cli(database_url(engine), "db", "backup", out).exit_code == 1  # the folder exists: refused
    photo = out / "photos" / digest[:2] / digest
    photo.write_bytes(b"not the photo")
    with pytest.raises(BackupError, match="changed since the backup"):
        restore(engine, out, replace=True)


@pytest.mark.parametrize("edit", ["schema_revision", "row_count"])
def test_a_restore_that_does_not_give_back_the_manifest_is_refused(engine, cli, tmp_path, var_dir, edit):
    _with_a_photo(engine, cli, tmp_path)
    out = tmp_path / "backup-3"
    backup(engine, out)
    manifest = json.loads((out / "manifest.json").read_text())
    if edit == "schema_revision":
        manifest["schema_revision"] = "0001"
        said = f"restored schema revision {head_revision()} is not the backup's 0001"
    else:
        manifest["rows"]["cases"] = 2
        said = "restored row counts differ from the manifest: {'cases': (1, 2)}"
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    refused = cli(database_url(engine), "db", "restore", out, "--replace")
    assert refused.exit_code == 1 and said in refused.stderr, refused.stderr
    with transaction(engine) as session:
        actions = session.scalars(select(AdminLogEntry.action)).all()
    assert "restore" not in actions  # an unverified restore is not logged as done


def test_a_backup_taken_while_writes_go_on_is_one_instant(engine, cli, tmp_path, var_dir):
    _with_a_photo(engine, cli, tmp_path)
    stop, written = threading.Event(), []

    def keep_writing() -> None:
        while not stop.is_set():
            with transaction(engine) as session:
                admin_log.record(session, actor="shell:writer", action="schedule_set", target="load", rows=1)
            written.append(1)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(written) < 5:  # the writer is under way before the copy starts ...
            time.sleep(0.01)
        report = backup(engine, tmp_path / "busy")
        after = len(written)
        while len(written) < after + 5:  # ... and goes on after it
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
    manifest = json.loads((tmp_path / "busy" / "manifest.json").read_text())
    with transaction(engine) as session:
        live = session.scalar(select(func.count()).select_from(AdminLogEntry))
    assert manifest["rows"]["admin_log"] == report.rows["admin_log"] < live
    # The copy holds exactly the counted rows: the restore checks every table against the manifest.
    restored = restore(engine, tmp_path / "busy", replace=True)
    assert restored.rows == manifest["rows"]


@pytest.mark.postgis
def test_a_whole_postgis_database_in_its_public_schema_is_restored_with_postgis(tmp_path, var_dir):
    """A team's real layout: the district in the public schema of its own database."""
    if not POSTGIS_URL:
        pytest.skip("LINPU_TEST_DATABASE_URL is not set: PostGIS tests skipped")
    name = f"linpu_backup_{uuid.uuid4().hex[:8]}"
    server = make_engine(POSTGIS_URL).execution_options(isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine = make_engine(make_url(POSTGIS_URL).set(database=name, query={}).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        seed_district(engine)
        backup(engine, tmp_path / "whole")
        with transaction(engine) as session:
            admin_log.record(session, actor="shell:test", action="schedule_set", target="after", rows=1)
        with pytest.raises(BackupError, match="--replace"):
            restore(engine, tmp_path / "whole")
        report = restore(engine, tmp_path / "whole", replace=True)
        assert report.rows["grids"] == 4 and report.revision == head_revision()
        with transaction(engine) as session:
            assert session.scalar(text("SELECT postgis_version()"))
            targets = session.scalars(select(AdminLogEntry.target).order_by(AdminLogEntry.id)).all()
        assert "after" not in targets and targets[-1] == str(tmp_path / "whole")
    finally:
        engine.dispose()
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()
