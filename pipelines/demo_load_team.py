"""The demo's departments and accounts, loaded as the office's own would be (issue 20).

Departments go through ``governance.departments.add_department``, the step
``linpu departments add`` takes; accounts are read from ``users.csv`` by the
reader of ``linpu users import`` (``pipelines.accounts.account_rows``), checked
by its ``governance.accounts.check_accounts`` (a problem names the file, row
and field) and given their role, member kind, department and grids by
``governance.team_accounts.save_team_account``.  Only the password differs
from an import: every demo account has the demo password, none a one-time one.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from governance.accounts import check_accounts, member_kind_code, role_code
from governance.catalog import Role
from governance.departments import add_department
from governance.errors import ValidationError
from governance.models import User
from governance.permissions import system_viewer
from governance.team_accounts import save_team_account
from pipelines.accounts import account_rows, codes
from pipelines.demo_files import DemoDataError, read_demo_csv
from pipelines.ingest import load_table


def load_departments(session: Session, folder: Path) -> int:
    """Every department of ``departments.csv`` with the service categories it answers for; how many."""
    rows = read_demo_csv(folder, "departments.csv")
    for i, row in enumerate(rows.itertuples(), start=2):
        try:
            add_department(session, system_viewer(), row.name, default_for=codes(row.default_for),
                           auto_for=codes(row.auto_for))
        except ValidationError as exc:
            raise DemoDataError(f"departments.csv row {i}: {exc}") from None
    return len(rows)


def load_accounts(session: Session, folder: Path, password_hash: str) -> dict[str, User]:
    """Every account of ``users.csv`` (after the grids, the organisation tree and the departments), by name."""
    table = load_table(folder / "users.csv")
    rows = account_rows(table)
    problems = [*table.problems, *check_accounts(session, rows)]
    if problems:
        first = problems[0]
        raise DemoDataError(f"users.csv row {first.row} field {first.field}: {first.message}")
    users = {}
    for row in rows:
        user = User(username=row.username, display_name=row.display_name or row.username,
                    role=Role(role_code(row.role)), password_hash=password_hash, scope=row.scope or None,
                    phone=row.phone or None)
        session.add(user)
        users[row.username] = user
    session.flush()
    for row in rows:
        save_team_account(session, row.username, role=role_code(row.role),
                          member_kind=member_kind_code(row.member_kind) if row.member_kind else None,
                          department=row.department or None, grids=row.grids)
    return users


__all__ = ["load_accounts", "load_departments"]
