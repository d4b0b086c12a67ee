"""Backup and restore of the database and the stored photos: ``linpu db backup|restore``.

A backup is a folder: the database (SQLite: a copy made with SQLite's online
backup API; PostgreSQL: a ``pg_dump`` custom-format archive taken from an
exported snapshot), ``photos/`` (every attachment the copy refers to, by its
SHA-256), and ``manifest.json`` (schema revision, row counts of every table
counted in the same snapshot as the copy, every photo's hash and size, the
database file's hash).  The app may run meanwhile: readers and writers are not
stopped, and the copy is one consistent instant.  Photos are content-addressed
and written before the row that names them commits, so every photo of the copy
exists when it is copied.

A restore refuses a target that holds data unless ``replace``, and refuses a
backup whose files do not match its manifest; after restoring it checks the
schema revision, the integrity, the row count of every table and the hash of
every photo.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select, table, text

from governance import admin_log
from governance.admin_log import shell_actor
from governance.attachments import attachment_root
from governance.db import make_engine, transaction
from governance.errors import ValidationError
from governance.models import Base

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"


class BackupError(ValidationError):
    """A backup or restore that cannot be done, or a backup that does not match its manifest."""


@dataclass
class BackupReport:
    folder: str
    backend: str
    revision: str | None
    rows: dict[str, int]
    photos: int
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.folder}: {self.backend} at revision {self.revision}, {sum(self.rows.values())} rows in "
                f"{len(self.rows)} tables, {self.photos} photos")

    def as_dict(self) -> dict:
        return asdict(self)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tables() -> list[str]:
    return sorted(t.name for t in Base.metadata.sorted_tables)


def _counts(connection) -> tuple[str | None, dict[str, int], list[str]]:
    """Schema revision, row count per table, photo hashes, all read on ``connection`` (one snapshot)."""
    present = set(inspect(connection).get_table_names())
    rows = {name: connection.execute(select(func.count()).select_from(table(name))).scalar_one()
            for name in _tables() if name in present}
    revision = (connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if "alembic_version" in present else None)
    photos = sorted(connection.execute(text("SELECT DISTINCT sha256 FROM attachments")).scalars()) \
        if "attachments" in present else []
    return revision, rows, photos


def _libpq_url(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(engine: Engine) -> Path:
    return Path(engine.url.database)


def _copy_database(engine: Engine, folder: Path) -> tuple[str | None, dict[str, int], list[str], str]:
    """The database into ``folder``; its revision, counts and photos as of the copy; the file name."""
    if engine.dialect.name == "sqlite":
        target = folder / SQLITE_FILE
        source = sqlite3.connect(_sqlite_path(engine))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # online: one consistent instant while the app reads and writes
        finally:
            source.close()
            copy.close()
        copy_engine = make_engine(f"sqlite:///{target}")
        with copy_engine.connect() as connection:
            revision, rows, photos = _counts(connection)
        copy_engine.dispose()
        return revision, rows, photos, SQLITE_FILE
    with engine.connect() as connection:
        # Count in the snapshot pg_dump dumps: REPEATABLE READ plus pg_export_snapshot.
        connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        revision, rows, photos = _counts(connection)
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        # The public schema: the whole database, PostGIS with it.  Another schema (a database
        # shared by several districts or test runs): that schema alone, PostGIS stays in public.
        only = [] if schema == "public" else [f"--schema={schema}"]
        _run(["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}", *only,
              f"--file={folder / PG_FILE}", f"--dbname={_libpq_url(engine)}"], "pg_dump")
        connection.rollback()
    return revision, rows, photos, PG_FILE


def _run(command: list[str], name: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(f"{name} is not installed; install the PostgreSQL client (apt-get install "
                          "postgresql-client) / 未安装 PostgreSQL 客户端") from None
    if done.returncode != 0:
        raise BackupError(f"{name} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}")


def backup(engine: Engine, out: str | Path, *, actor: str | None = None) -> BackupReport:
    """A consistent copy of the database and its photos in the new folder ``out``, with a manifest."""
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out}: exists already; give a new folder / 目标已存在，请换一个文件夹")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True, mode=0o700)
    try:
        revision, rows, photos, name = _copy_database(engine, partial)
        hashes, missing = {}, []
        for digest in photos:
            source = attachment_root() / digest[:2] / digest
            if not source.exists():
                missing.append(digest)
                continue
            target = partial / "photos" / digest[:2] / digest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            if _sha256(target) != digest:
                raise BackupError(f"photo {digest}: the stored file does not match its hash / 照片文件已损坏")
            hashes[digest] = target.stat().st_size
        manifest = {"created_at": datetime.now(UTC).isoformat(), "backend": engine.dialect.name,
                    "schema_revision": revision, "rows": rows, "photos": hashes, "missing_photos": missing,
                    "database": {"file": name, "sha256": _sha256(partial / name)}}
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        partial.rename(out)  # a backup folder is complete or absent
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    with transaction(engine) as session:
        admin_log.record(session, actor=actor or shell_actor(), action="backup", target=str(out),
                         rows=sum(rows.values()), detail=f"{len(hashes)} photos")
    notes = [f"{len(missing)} photos named by cases were missing from {attachment_root()}"] if missing else []
    return BackupReport(str(out), engine.dialect.name, revision, rows, len(hashes), notes)


def _read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder}: no readable {MANIFEST} ({exc}) / 备份缺少清单") from None
    database = folder / manifest["database"]["file"]
    if not database.exists() or _sha256(database) != manifest["database"]["sha256"]:
        raise BackupError(f"{database}: missing or changed since the backup / 数据库文件缺失或已改变")
    for digest in manifest["photos"]:
        photo = folder / "photos" / digest[:2] / digest
        if not photo.exists() or _sha256(photo) != digest:
            raise BackupError(f"{photo}: missing or changed since the backup / 照片缺失或已改变")
    return manifest


def _holds_data(engine: Engine) -> bool:
    with engine.connect() as connection:
        _, rows, _ = _counts(connection)
    return any(rows.values())


def restore(engine: Engine, source: str | Path, *, replace: bool = False,
            actor: str | None = None) -> BackupReport:
    """Put the backup in ``source`` into the database and the photo store, then check both."""
    folder = Path(source)
    manifest = _read_manifest(folder)
    if manifest["backend"] != engine.dialect.name:
        raise BackupError(f"{folder}: a {manifest['backend']} backup cannot be restored into "
                          f"{engine.dialect.name} / 备份与目标数据库类型不同")
    if _holds_data(engine) and not replace:
        raise BackupError("the target database holds data; add --replace to replace all of it with the backup "
                          "/ 目标数据库已有数据，确认替换请加 --replace")
    database = folder / manifest["database"]["file"]
    if engine.dialect.name == "sqlite":
        engine.dispose()
        copy, target = sqlite3.connect(database), sqlite3.connect(_sqlite_path(engine))
        try:
            copy.backup(target)
        finally:
            copy.close()
            target.close()
    else:
        with engine.begin() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            if schema == "public":  # the dump of a whole database recreates everything but public itself
                connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq_url(engine)}", str(database)],
             "pg_restore")
    for digest in manifest["photos"]:
        target = attachment_root() / digest[:2] / digest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / "photos" / digest[:2] / digest, target)
    report = _verify(engine, manifest, folder)
    with transaction(engine) as session:
        admin_log.record(session, actor=actor or shell_actor(), action="restore", target=str(folder),
                         rows=sum(report.rows.values()), detail=f"{report.photos} photos")
    return report


#: What a failed verification means for the database and what to do (it was replaced already).
_UNVERIFIED = ("the database now holds this unverified restore: restore an earlier backup with --replace "
               "/ 恢复结果与备份清单不符，数据库已被替换但未通过校验：请用 --replace 恢复更早的备份")


def _verify(engine: Engine, manifest: dict, folder: Path) -> BackupReport:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            integrity = connection.execute(text("PRAGMA integrity_check")).scalar()
            if integrity != "ok":
                raise BackupError(f"restored database fails its integrity check: {integrity}; {_UNVERIFIED}")
        revision, rows, _ = _counts(connection)
    if revision != manifest["schema_revision"]:
        raise BackupError(f"restored schema revision {revision} is not the backup's {manifest['schema_revision']}; "
                          f"{_UNVERIFIED}")
    differing = {t: (rows.get(t), n) for t, n in manifest["rows"].items() if rows.get(t) != n}
    if differing:
        raise BackupError(f"restored row counts differ from the manifest: {differing}; {_UNVERIFIED}")
    for digest in manifest["photos"]:
        if _sha256(attachment_root() / digest[:2] / digest) != digest:
            raise BackupError(f"restored photo {digest} does not match its hash; {_UNVERIFIED}")
    return BackupReport(str(folder), engine.dialect.name, revision, rows, len(manifest["photos"]))
