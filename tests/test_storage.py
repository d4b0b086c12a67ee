"""Models and migrations on SQLite and PostGIS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import shapely
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from governance.catalog import CaseKind, CaseState, Category, Severity
from governance.db import make_engine, transaction
from governance.errors import ConfigurationError, DatabaseBusy
from governance.migrate import current_revision, downgrade, head_revision, upgrade
from governance.models import Base, Case, Grid, GridGeneration, Shop, User

EXPECTED_TABLES = {
    "shops", "shop_badges", "grids", "grid_generations", "grid_members", "users", "cases",
    "case_history", "attachments", "ratings", "hazard_checks", "check_schedules",
    "district_features", "notify_webhooks", "notifications", "notification_deliveries", "admin_log",
}


def _postgis_only_differences(diff) -> bool:
    """PostGIS brings spatial_ref_sys, and the migrations add GiST indexes the models do not declare."""
    if diff[0] == "remove_table":
        return diff[1].name == "spatial_ref_sys"
    if diff[0] == "remove_index":
        return diff[1].name.endswith("_geometry")
    return False


@pytest.mark.filterwarnings("ignore:Did not recognize type 'geometry'")
def test_migrations_create_every_table_and_match_the_models(engine):
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, Base.metadata) if not _postgis_only_differences(d)]
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(engine):
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert not EXPECTED_TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def _generation_with_grid(session) -> Grid:
    generation = GridGeneration(method="test", is_current=True)
    session.add(generation)
    session.flush()
    grid = Grid(generation_id=generation.id, code="G001", geometry=shapely.box(118.9, 25.1, 118.91, 25.11))
    session.add(grid)
    session.flush()
    return grid


def test_geometry_and_times_round_trip(engine):
    china = timezone(timedelta(hours=8))
    created = datetime(2026, 11, 20, 9, 30, tzinfo=china)
    with transaction(engine) as session:
        grid = _generation_with_grid(session)
        session.add(
            Case(
                case_no="C1", kind=CaseKind.PATROL, category=Category.GAS, severity=Severity.HIGH,
                title="液化气瓶倒放", geometry=shapely.Point(118.905, 25.105), grid_id=grid.id,
                state=CaseState.WARNING, created_at=created, due_at=created + timedelta(hours=24),
            )
        )
    with transaction(engine) as session:
        case = session.scalars(select(Case)).one()
        assert case.geometry.equals(shapely.Point(118.905, 25.105))
        assert case.created_at == created
        assert case.created_at.tzinfo is not None
        assert case.title == "液化气瓶倒放"
        grid = session.scalars(select(Grid)).one()
        assert grid.geometry.equals(shapely.box(118.9, 25.1, 118.91, 25.11))


def test_unknown_codes_and_orphans_are_refused_by_the_database(engine):
    with pytest.raises((StatementError, LookupError)), transaction(engine) as session:
        session.add(User(username="x", display_name="x", role="mayor"))
        session.flush()
    with pytest.raises(IntegrityError), transaction(engine) as session:
        # A raw insert skips the ORM's enum check, so this proves the CHECK constraint.
        session.execute(text(
            "INSERT INTO users (username, display_name, role, is_active, failed_logins, created_at) "
            "VALUES ('y', 'y', 'mayor', true, 0, CURRENT_TIMESTAMP)"
        ))
    with pytest.raises(IntegrityError), transaction(engine) as session:
        session.add(Shop(shop_code="S1", name="n", trade="retail", geometry=shapely.Point(0, 0), grid_id=999))
        session.flush()
    with transaction(engine) as session:
        assert session.scalars(select(User)).all() == []
        assert session.scalars(select(Shop)).all() == []


def test_closed_case_needs_an_outcome(engine):
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError), transaction(engine) as session:
        grid = _generation_with_grid(session)
        session.add(
            Case(
                case_no="C2", kind=CaseKind.PATROL, category=Category.NOISE, severity=Severity.LOW,
                title="t", geometry=shapely.Point(118.905, 25.105), grid_id=grid.id,
                state=CaseState.CLOSED, outcome=None, created_at=now, due_at=now,
            )
        )
        session.flush()


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "cannot be parsed"),
        ("mysql://root@127.0.0.1/x", "not supported"),
        ("postgresql://nobody@127.0.0.1:1/none", "cannot be reached"),
    ],
)
def test_bad_database_url_is_one_clear_line(url, reason):
    with pytest.raises(ConfigurationError) as info:
        make_engine(url)
    message = str(info.value)
    assert message.startswith("LINPU_DATABASE_URL=")
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize("engine", ["postgis"], indirect=True)
def test_postgis_columns_are_geometry_with_gist_indexes(engine):
    with engine.connect() as connection:
        types = dict(connection.execute(text(
            "SELECT f_table_name, type FROM geometry_columns WHERE f_geometry_column = 'geometry' "
            "AND f_table_schema = current_schema()"
        )).all())
        # From the catalogs, not pg_indexes: that view renders every index's definition
        # before filtering by schema, and fails on an index another test worker is dropping.
        indexes = connection.execute(text(
            "SELECT index_class.relname FROM pg_index"
            " JOIN pg_class index_class ON index_class.oid = pg_index.indexrelid"
            " JOIN pg_am ON pg_am.oid = index_class.relam"
            " JOIN pg_namespace ON pg_namespace.oid = index_class.relnamespace"
            " WHERE pg_namespace.nspname = current_schema() AND pg_am.amname = 'gist'"
        )).scalars().all()
    assert types["cases"] == "POINT" and types["shops"] == "POINT" and types["grids"] == "GEOMETRY"
    assert {"ix_cases_geometry", "ix_grids_geometry", "ix_shops_geometry"} <= set(indexes)


@pytest.mark.parametrize("engine", ["postgis"], indirect=True)
def test_postgis_answers_containment_in_the_database(engine):
    from sqlalchemy import func

    with transaction(engine) as session:
        _generation_with_grid(session)
        inside = session.scalars(
            select(Grid.code).where(
                func.ST_Contains(Grid.geometry, func.ST_SetSRID(func.ST_MakePoint(118.905, 25.105), 4326))
            )
        ).all()
        outside = session.scalars(
            select(Grid.code).where(
                func.ST_Contains(Grid.geometry, func.ST_SetSRID(func.ST_MakePoint(118.95, 25.105), 4326))
            )
        ).all()
    assert inside == ["G001"] and outside == []


def test_a_full_pool_says_busy_and_serves_again_once_a_connection_is_free(engine):
    url = engine.url.render_as_string(hide_password=False)
    small = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        held = small.connect()
        busy = r"all 1 database connections are in use and nothing was saved"
        with pytest.raises(DatabaseBusy, match=busy), transaction(small) as session:
            session.execute(text("SELECT 1"))
        held.close()
        with transaction(small) as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        small.dispose()
