"""Engines and sessions for the one database URL setting.

SQLite is the default (a file under ``LINPU_VAR_DIR``); PostgreSQL with
PostGIS serves a team.  Every SQLite connection gets foreign keys, WAL and a
busy timeout, since SQLite forgets pragmas between connections, and the SQL
functions SQLite lacks (``governance.spatial.register_sqlite_functions``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from governance.check_due import note_bulk_write, refresh_if_stale
from governance.errors import NUL_REFUSAL, ConfigurationError, DatabaseBusy, ValidationError
from governance.settings import get_settings
from governance.spatial import register_sqlite_functions

SETTING = "LINPU_DATABASE_URL"


def parse_database_url(url: str) -> URL:
    """Parse a database URL, or raise ConfigurationError naming the setting."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"{SETTING}={url!r} cannot be parsed: {exc}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"{SETTING}={parsed.render_as_string(hide_password=True)!r}: backend "
            f"{parsed.get_backend_name()!r} is not supported; use sqlite or postgresql"
        )
    return parsed


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    register_sqlite_functions(dbapi_connection)


class BusyWhenFullPool(QueuePool):
    """A pool whose wait past its timeout is the "busy, try again" every page already says.

    SQLAlchemy raises its own ``TimeoutError`` there, which reached users as a raw
    error; a full pool is contention like a lock timeout, and is said as one.
    """

    def _do_get(self):
        try:
            return super()._do_get()
        except PoolTimeout:
            raise DatabaseBusy(
                f"all {self.size() + self._max_overflow} database connections are in use and nothing was "
                "saved; try again in a moment (LINPU_DB_POOL_SIZE and LINPU_DB_POOL_OVERFLOW set the limit)"
            ) from None


def make_engine(url: str, *, check: bool = True, pool_size: int | None = None,
                max_overflow: int | None = None, pool_timeout: float | None = None) -> Engine:
    """Create an engine for ``url`` and, with ``check``, prove it answers.

    The pool's limits default to the ``LINPU_DB_POOL_*`` settings; a step that
    waits past ``pool_timeout`` for a connection raises ``DatabaseBusy``.

    Raises
    ------
    ConfigurationError
        One line naming ``LINPU_DATABASE_URL`` and why it cannot be used.
    """
    parsed = parse_database_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_absolute() and not parsed.database.startswith("file:"):
            # A relative path is the folder each process starts in: the app and a `linpu` command
            # run elsewhere would each create and use their own file, silently.
            raise ConfigurationError(
                f"{SETTING}={shown!r}: the SQLite path {parsed.database!r} is relative, so it would name "
                f"a different file in each folder the app or a command starts in; give an absolute path: "
                f"sqlite:///{Path(parsed.database).resolve().as_posix()} (four slashes before an absolute "
                f"path on Linux), or unset {SETTING} for the default file under LINPU_VAR_DIR"
            )
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"{SETTING}={shown!r}: cannot create folder {folder}: {exc.strerror}"
            ) from None
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is what the postgis extra installs; psycopg2 is not a dependency.
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        settings = get_settings()
        in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
        # An in-memory SQLite database lives in one connection: it keeps SQLAlchemy's own pool.
        limits = {} if in_memory else {
            "poolclass": BusyWhenFullPool,
            "pool_size": settings.db_pool_size if pool_size is None else pool_size,
            "max_overflow": settings.db_pool_overflow if max_overflow is None else max_overflow,
            "pool_timeout": settings.db_pool_timeout_seconds if pool_timeout is None else pool_timeout,
        }
        engine = create_engine(parsed, pool_pre_ping=True, **limits)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigurationError(f"{SETTING}={shown!r} cannot be used: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if check:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise ConfigurationError(f"{SETTING}={shown!r} cannot be reached: {reason}") from None
    return engine


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_writes(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        note_bulk_write(state.session, getattr(table, "name", None))


@event.listens_for(Session, "before_commit")
def _refresh_stale_check_due(session: Session) -> None:
    # Imports write shops in bulk, outside the workflow; recomputing here keeps
    # the summary's checks due right without every importer having to know.
    refresh_if_stale(session)


@event.listens_for(Session, "before_flush")
def _refuse_nul_characters(session: Session, _context, _instances) -> None:
    """Refuse text holding U+0000 on every backend alike, naming the field.

    PostgreSQL cannot store it (the driver raises a bare DataError) and it
    cuts strings short in C tools reading SQLite; no form or file has a
    legitimate use for it.
    """
    for instance in (*session.new, *session.dirty):
        state = inspect(instance)
        for attribute in state.mapper.column_attrs:
            if _holds_nul(state.dict.get(attribute.key)):
                raise ValidationError(f"{attribute.key} {NUL_REFUSAL}")


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed together or not at all.

    Raises
    ------
    DatabaseBusy
        Other writers kept the database locked past the busy timeout (SQLite)
        or PostgreSQL chose this transaction as a deadlock or serialization
        victim; everything was rolled back and a retry may succeed.
    """
    try:
        with session_factory(engine)() as session, session.begin():
            yield session
    except OperationalError as exc:
        if not _is_contention(exc):
            raise
        raise DatabaseBusy(
            "the database is busy with other writes and nothing was saved; try again in a moment"
        ) from exc


#: SQLSTATEs of PostgreSQL's serialization failure, deadlock and lock timeout.
_CONTENTION_SQLSTATES = {"40001", "40P01", "55P03"}


def _is_contention(exc: OperationalError) -> bool:
    if getattr(exc.orig, "sqlstate", None) in _CONTENTION_SQLSTATES:
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "database table is locked" in message
