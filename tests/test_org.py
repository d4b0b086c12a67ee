"""The organisation tree: `linpu org import`, scopes, unassigned grids (issue 21)."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dashboard.data import viewer_key
from governance import org
from governance.db import make_engine, transaction
from governance.errors import NotFoundError, ValidationError
from governance.loop_summary import grid_loop_summary
from governance.migrate import upgrade
from governance.models import Grid, OrgNode, User
from governance.permissions import viewer_for
from governance.rollups import level_rollup
from governance.settings import get_settings
from governance.testing import IN_G001, IN_G002, seed_small_district
from governance.workflow import file_case
from pipelines.commands.root import main
from pipelines.export import export_layers

HEADER = "node_id,parent_id,level,name,grids,shops\n"
TREE = HEADER + (
    "street,,street_committee,山腰街道党工委,,\n"
    "district,street,district_committee,永嘉国潮街区党委,,\n"
    "b1,district,branch,第一支部,G001,S-G001\n"
    "b2,district,branch,第二支部,G002,S-G002\n"
)


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'org.sqlite3'}"
    monkeypatch.setenv("LINPU_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade(engine)
    seed_small_district(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def run(*args):
    return CliRunner().invoke(main, list(args))


def write(tmp_path, text, name="org.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def nodes(engine) -> int:
    with transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(OrgNode))


def test_import_stores_the_tree_and_scope_limits_a_supervisor_to_a_branch(database, tmp_path):
    result = run("org", "import", write(tmp_path, TREE))
    assert result.exit_code == 0, result.output
    assert "4 nodes, 2 grids, 2 shops" in result.output
    assert run("users", "scope", "supervisor", "b2").exit_code == 0
    with transaction(database) as session:
        secretary = viewer_for(session, "supervisor")
        g002 = session.scalar(select(Grid.id).where(Grid.code == "G002"))
        levels = org.grid_levels(session).set_index("code")
    assert secretary.grid_ids == {g002} and secretary.scope == "b2"
    assert levels.loc["G001", "branch_name"] == "第一支部"
    assert levels.loc["G002", "district_committee"] == "district"
    # The cache key of the dashboard changes with the scope.
    assert viewer_key(secretary)[-1] == "b2"


def test_the_xlsx_form_is_read_too(database, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for line in TREE.splitlines():
        book.active.append(line.split(","))
    book.save(tmp_path / "org.xlsx")
    assert run("org", "import", str(tmp_path / "org.xlsx")).exit_code == 0
    assert nodes(database) == 4


@pytest.mark.parametrize(("text", "where"), [
    (TREE.replace("b1,district,branch", "b1,street,branch"), "row 4 field parent_id"),
    (TREE.replace(",G001,", ",G009,"), "row 4 field grids: 'G009' is not among the current grids"),
    (TREE.replace(",G002,", ",G001,"), "row 5 field grids: 'G001' is listed by row 4 already"),
    (TREE.replace("branch,第二支部", "brunch,第二支部"), "row 5 field level"),
    (TREE.replace("S-G002", "S-NOPE"), "row 5 field shops"),
    (TREE + "street2,,street_committee,另一个,,\n", "row 6 field level: one street_committee expected"),
])
def test_a_bad_file_names_row_and_field_and_writes_nothing(database, tmp_path, text, where):
    result = run("org", "import", write(tmp_path, text))
    assert result.exit_code == 1
    assert f"org.csv {where}" in result.output
    assert nodes(database) == 0


def test_replacing_a_stored_tree_needs_to_be_confirmed(database, tmp_path):
    assert run("org", "import", write(tmp_path, TREE)).exit_code == 0
    smaller = TREE.replace(",G002,S-G002", ",,")
    refused = run("org", "import", write(tmp_path, smaller))
    assert refused.exit_code == 1 and "--replace" in refused.output
    with transaction(database) as session:
        assert org.unassigned_grids(session) == []
    assert run("org", "import", "--replace", write(tmp_path, smaller)).exit_code == 0
    with transaction(database) as session:
        assert org.unassigned_grids(session) == ["G002"]


def test_a_new_grid_code_after_a_regridding_is_unassigned(database, tmp_path):
    assert run("org", "import", write(tmp_path, TREE)).exit_code == 0
    with transaction(database) as session:
        current = session.scalar(select(Grid).where(Grid.code == "G002"))
        session.add(Grid(generation_id=current.generation_id, code="G003", n_shops=0, geometry=current.geometry))
    with transaction(database) as session:
        assert org.unassigned_grids(session) == ["G003"]
    shown = run("org", "show")
    assert shown.exit_code == 0 and "unassigned: G003" in shown.output


def test_scope_is_for_supervisors_and_known_nodes(database, tmp_path):
    assert run("org", "import", write(tmp_path, TREE)).exit_code == 0
    with transaction(database) as session:
        with pytest.raises(ValidationError, match="only a supervisor"):
            org.set_scope(session, "analyst", "b1")
        with pytest.raises(NotFoundError, match="no node 'b9'"):
            org.set_scope(session, "supervisor", "b9")
    assert run("users", "scope", "supervisor", "b1").exit_code == 0
    # A tree that drops a node some account is limited to is refused.
    refused = run("org", "import", "--replace", write(tmp_path, TREE.replace("b1,", "b9,")))
    assert refused.exit_code == 1 and "scope of account 'supervisor'" in refused.output
    assert run("users", "scope", "supervisor").exit_code == 0
    with transaction(database) as session:
        assert session.scalar(select(User.scope).where(User.username == "supervisor")) is None


def test_loop_figures_roll_up_per_level_and_the_grids_export_names_each_grids_nodes(database, tmp_path):
    assert run("org", "import", write(tmp_path, TREE)).exit_code == 0
    with transaction(database) as session:
        admin = viewer_for(session, "admin")
        for lon, lat in (IN_G001, IN_G001, IN_G002):
            file_case(session, admin, kind="patrol", category="fumes", severity="low", title="油烟", lon=lon, lat=lat)
    assert run("users", "scope", "supervisor", "b1").exit_code == 0
    with transaction(database) as session:
        whole = level_rollup(session, grid_loop_summary(session, admin)).set_index("node_id")
        secretary = viewer_for(session, "supervisor")
        branch = level_rollup(session, grid_loop_summary(session, secretary)).set_index("node_id")
    assert whole.loc["street", "open"] == 3 and whole.loc["district", "grids"] == 2
    assert whole.loc["b1", "open"] == 2 and whole.loc["b2", "open"] == 1
    assert whole.loc["b1", "level"] == "branch" and whole.loc["b1", "name"] == "第一支部"
    # The secretary's roll-up holds their branch only, up the tree too.
    assert "b2" not in branch.index and branch.loc["street", "open"] == 2
    result = export_layers(database, layers=["grids"], fmt="csv", out=tmp_path / "grids.csv")
    grids = pd.read_csv(result.paths[0], encoding="utf-8-sig").set_index("code")
    assert grids.loc["G001", "branch"] == "b1" and grids.loc["G002", "branch_name"] == "第二支部"
    assert grids.loc["G002", "street_committee"] == "street"
