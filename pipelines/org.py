"""The organisation tree from a file: the job behind ``linpu org import``.

Columns (CSV or XLSX): ``node_id, parent_id, level, name, grids, shops``;
``level`` is street_committee, district_committee or branch; ``grids`` and
``shops`` hold codes separated by ``;``.  Every row is checked first (one
tree, known grids and shops, each grid and shop under one node) and the
file is stored whole or not at all.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from governance import org
from governance.db import transaction
from governance.errors import ValidationError
from pipelines.ingest import IngestReport
from pipelines.readers import Problem, read_path
from pipelines.validation import require_columns

COLUMNS = {
    "node_id": ("node_id", "id", "节点编号"),
    "parent_id": ("parent_id", "parent", "上级编号"),
    "level": ("level", "层级"),
    "name": ("name", "名称"),
    "grids": ("grids", "grid_codes", "网格"),
    "shops": ("shops", "shop_codes", "党员商户"),
}
REQUIRED = ("node_id", "parent_id", "level", "name")


def _codes(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.strip() for c in text.replace("；", ";").split(";") if c.strip()))


def import_org(engine: Engine, path: str | Path, *, replace: bool = False, dry_run: bool = False) -> IngestReport:
    """Check the file and store it as the organisation tree; refused (nothing written) on any
    problem, and when a tree is stored already unless ``replace``."""
    table = read_path(path)
    columns = require_columns(table, COLUMNS, REQUIRED)
    frame = table.frame

    def cell(i, key: str) -> str:
        return str(frame.at[i, columns[key]]).strip() if key in columns else ""

    rows = [org.NodeRow(row=int(i), node_id=cell(i, "node_id"), parent_id=cell(i, "parent_id"),
                        level=cell(i, "level"), name=cell(i, "name"), grids=_codes(cell(i, "grids")),
                        shops=_codes(cell(i, "shops")))
            for i in frame.index]
    report = IngestReport(kind="org", source=table.source, rows=len(rows), problems=list(table.problems),
                          dry_run=dry_run)
    with transaction(engine) as session:
        if org.has_tree(session) and not replace and not dry_run:
            raise ValidationError(f"{table.source}: an organisation tree is stored already; "
                                  "add --replace to replace it with this file")
        report.problems += [Problem(p.row, p.field, p.message) for p in org.check_tree(session, rows)]
        report.counts = {
            "nodes": len(rows), "grids": sum(len(r.grids) for r in rows), "shops": sum(len(r.shops) for r in rows),
        }
        if report.refused or dry_run:
            return report
        org.replace_tree(session, rows)
        report.written = True
        unassigned = org.unassigned_grids(session)
    if unassigned:
        report.notes.append(f"{len(unassigned)} current grids under no node: {', '.join(unassigned[:20])}"
                            + (" …" if len(unassigned) > 20 else ""))
    return report
