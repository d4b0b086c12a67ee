"""Shared fixtures: databases on SQLite and PostGIS, the demo, the running app.

Storage tests take the ``engine`` fixture and run once on SQLite and, when
``LINPU_TEST_DATABASE_URL`` is set, once more on PostGIS, each in a fresh
schema made by the real migrations.  ``LINPU_REQUIRE_BROWSER=1`` (set by
.ci/run) turns a missing Chromium into a failure instead of a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text

from governance.db import make_engine
from governance.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
POSTGIS_URL = os.environ.get("LINPU_TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]


def _postgis_schema_url(schema: str) -> str:
    url = make_url(POSTGIS_URL)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    # Each test gets its own schema; PostGIS itself stays in public.
    return url.update_query_dict({"options": f"-csearch_path={schema},public"}).render_as_string(
        hide_password=False
    )


@contextmanager
def backend_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty database: a SQLite file, or a fresh schema in the PostGIS test database."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'linpu-test.sqlite3'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    if not POSTGIS_URL:
        pytest.skip("LINPU_TEST_DATABASE_URL is not set: PostGIS tests skipped")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGIS_URL)
    with admin.begin() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(_postgis_schema_url(schema))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_engine(request, tmp_path) -> Iterator[Engine]:
    """An empty database with no schema, on each backend."""
    with backend_engine(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once per session (per worker), copied by ``engine``."""
    path = tmp_path_factory.mktemp("migrated") / "head.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path) -> Iterator[Engine]:
    """A database migrated to head, on SQLite and (when configured) PostGIS.

    SQLite's is a copy of a file the real migrations made once (running them for each of
    several hundred tests cost minutes of the suite); PostGIS gets a fresh schema migrated.
    """
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), tmp_path / "linpu-test.sqlite3")
        with backend_engine("sqlite", tmp_path) as engine:
            yield engine
        return
    with backend_engine(request.param, tmp_path) as engine:
        upgrade(engine)
        yield engine


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory) -> str:
    """A SQLite file with the demo district loaded, shared read-only by tests."""
    from pipelines.demo_load import load_demo

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    load_demo(engine)
    engine.dispose()
    return f"sqlite:///{path}"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("LINPU_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(
    database_url: str, log_path: Path, *, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """The dashboard on a free port for the length of the block; yields its base URL."""
    process, url = _start_app(database_url, log_path, extra_env=extra_env)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _start_app(database_url: str, log_path: Path, *, extra_env: dict[str, str] | None = None):
    port = free_port()
    env = {
        **os.environ,
        "LINPU_DATABASE_URL": database_url,
        **(extra_env or {}),
    }
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "streamlit_app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--server.enableStaticServing",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"streamlit did not listen within 60 s:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def demo_app(demo_database, tmp_path_factory) -> Iterator[str]:
    """The dashboard running on the demo database; yields its base URL."""
    log = tmp_path_factory.mktemp("app") / "streamlit.log"
    with running_app(demo_database, log, extra_env={"LINPU_DEMO_MODE": "true"}) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def pytest_collection_modifyitems(items):
    # Every test that drives Chromium is a browser test, marked or not; under pytest-xdist
    # (`make test` runs `--dist loadgroup`) they share one worker, so one Chromium and one app
    # run at a time while the other worker takes the rest of the suite.
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))
