"""Account and team files: the jobs behind ``linpu users import`` and ``linpu members import``.

Accounts (CSV in UTF-8 or GBK, or XLSX; the one account format of
``governance.accounts``): ``username, display_name, role, grids, member_kind,
department, scope, phone`` with Chinese headers accepted (用户名, 姓名, 角色,
网格, 成员类别, 部门, 范围, 电话).  Team members without an account
(``governance.team``): ``grid, member_kind, name, phone`` (网格, 成员类别,
姓名, 电话).  Every row is checked before anything is written; a file with any
problem is refused whole.

The one-time passwords of new accounts go to ``--passwords-out``: created
with mode 0600 (refused if the file exists), written before the accounts are
committed and removed again if the commit fails, so a password is never lost
and never printed.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from governance import accounts, team
from governance.admin_log import shell_actor
from governance.db import transaction
from governance.errors import ValidationError
from pipelines.ingest import load_table
from pipelines.ingest_report import IngestReport
from pipelines.readers import Problem, RawTable
from pipelines.validation import require_columns

ACCOUNT_COLUMNS = {
    "username": ("username", "user", "login", "用户名", "账号", "帐号"),
    "display_name": ("display_name", "name", "姓名", "显示名"),
    "role": ("role", "角色"),
    "grids": ("grids", "grid", "grid_codes", "网格", "网格编号"),
    "member_kind": ("member_kind", "kind", "成员类别", "类别"),
    "department": ("department", "部门"),
    "scope": ("scope", "范围", "组织节点"),
    "phone": ("phone", "mobile", "电话", "手机", "联系电话"),
}
MEMBER_COLUMNS = {
    "grid": ("grid", "grid_code", "网格", "网格编号"),
    "member_kind": ("member_kind", "kind", "成员类别", "类别"),
    "name": ("name", "姓名"),
    "phone": ("phone", "mobile", "电话", "手机", "联系电话"),
}


def codes(text: str) -> tuple[str, ...]:
    """Codes separated by ``;`` (or the full-width ``；`` or ``,``), in order, once each."""
    parts = text.replace("；", ";").replace("，", ";").replace(",", ";").split(";")
    return tuple(dict.fromkeys(c.strip() for c in parts if c.strip()))


def _cells(table: RawTable, spec, required) -> list[tuple[int, dict[str, str]]]:
    columns = require_columns(table, spec, required)
    frame = table.frame
    return [(int(i), {key: str(frame.at[i, columns[key]]).strip() if key in columns else "" for key in spec})
            for i in frame.index]


def account_rows(table: RawTable) -> list[accounts.AccountRow]:
    return [accounts.AccountRow(row=i, username=c["username"], display_name=c["display_name"], role=c["role"],
                                grids=codes(c["grids"]), member_kind=c["member_kind"],
                                department=c["department"], scope=c["scope"], phone=c["phone"])
            for i, c in _cells(table, ACCOUNT_COLUMNS, ("username", "role"))]


def _open_passwords_file(path: Path):
    try:
        # O_EXCL: an existing file (someone else's passwords, a symlink) is never overwritten.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValidationError(f"--passwords-out {path}: the file exists already; give a new file name "
                              "/ 文件已存在，请换一个文件名") from None
    os.fchmod(fd, 0o600)  # the umask cannot widen 0600, but an odd one could narrow it: set it exactly
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


def import_accounts(engine: Engine, source: bytes | Path, *, name: str | None = None,
                    keep_passwords: Callable[[accounts.AccountsApplied], None] | None = None,
                    actor: str | None = None, dry_run: bool = False) -> IngestReport:
    """Create or update every account of the file (bytes of an upload named ``name``, or a path).

    ``keep_passwords`` receives the new accounts' one-time passwords inside the transaction, before
    the commit: if it fails, no account is created.  New accounts without it are refused.
    """
    table = load_table(source, name)
    rows = account_rows(table)
    report = IngestReport(kind="accounts", source=table.source, rows=len(rows), problems=list(table.problems),
                          dry_run=dry_run)
    with transaction(engine) as session:
        report.problems += [Problem(p.row, p.field, p.message) for p in accounts.check_accounts(session, rows)]
        if report.refused or dry_run:
            return report
        done = accounts.apply_accounts(session, rows, actor=actor or shell_actor())
        report.counts = {"accounts_created": len(done.created), "accounts_updated": len(done.updated)}
        if done.created and keep_passwords is None:
            raise ValidationError("new accounts need --passwords-out FILE for their one-time passwords "
                                  "/ 新账号需要 --passwords-out 文件保存一次性密码")
        if done.created:
            keep_passwords(done)
        report.written = True
    return report


def import_accounts_to_file(engine: Engine, path: str | Path, *, passwords_out: str | Path | None,
                            actor: str | None = None, dry_run: bool = False) -> IngestReport:
    """``linpu users import``: as :func:`import_accounts`, the passwords to a new 0600 file."""
    out = Path(passwords_out) if passwords_out else None
    if out is not None and out.exists():
        raise ValidationError(f"--passwords-out {out}: the file exists already; give a new file name "
                              "/ 文件已存在，请换一个文件名")
    report = import_accounts(engine, Path(path), actor=actor, dry_run=dry_run,
                             keep_passwords=None if out is None else lambda done: _write_passwords(out, done))
    if report.written and report.counts["accounts_created"]:
        report.notes.append(f"one-time passwords of {report.counts['accounts_created']} new accounts in {out} "
                            "(mode 0600); each must choose their own at first sign-in")
    return report


def _write_passwords(out: Path, done: accounts.AccountsApplied) -> None:
    try:
        with _open_passwords_file(out) as handle:
            handle.write(passwords_csv(done))
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        # The accounts are rolled back with this exception: their passwords must not stay behind.
        out.unlink(missing_ok=True)
        raise


def passwords_csv(done: accounts.AccountsApplied) -> str:
    """The new accounts' one-time passwords as CSV, one line per account (the file and the admin
    page's download)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["username", "one_time_password"])
    # No cell is quoted: a password must stay exactly as issued. Neither can start like a
    # formula (accounts.USERNAME begins with a letter or digit, as does one_time_password).
    writer.writerows((name, done.passwords[name]) for name in done.created)
    return buffer.getvalue()


def import_members(engine: Engine, source: bytes | Path, *, name: str | None = None, actor: str | None = None,
                   dry_run: bool = False) -> IngestReport:
    """Record the file's team members (no accounts) in their grids; refused whole on any problem."""
    table = load_table(source, name)
    rows = [team.MemberRow(row=i, grid=c["grid"], member_kind=c["member_kind"], name=c["name"], phone=c["phone"])
            for i, c in _cells(table, MEMBER_COLUMNS, ("grid", "member_kind", "name"))]
    report = IngestReport(kind="members", source=table.source, rows=len(rows), problems=list(table.problems),
                          dry_run=dry_run)
    with transaction(engine) as session:
        report.problems += [Problem(p.row, p.field, p.message) for p in team.check_members(session, rows)]
        if report.refused or dry_run:
            return report
        added, updated = team.record_members(session, rows, actor=actor or shell_actor())
        report.counts = {"members_added": added, "members_updated": updated}
        report.written = True
    return report
