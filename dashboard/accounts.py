"""The accounts side of the dashboard: a user's own password, and the admin page's reads and steps.

Every function opens one transaction and calls the governance function that
the matching ``linpu`` command calls, so the page and the CLI do the same
thing and write the same admin-log entries.
"""

from __future__ import annotations

import pandas as pd

from dashboard.context import engine
from dashboard.data import bump_epoch
from governance import accounts as account_rules
from governance import admin_log
from governance import login as sign_in_rules
from governance.db import session_factory, transaction
from governance.permissions import require_admin
from pipelines import accounts as account_files
from pipelines import users as account_jobs


def must_change_password(username: str) -> bool:
    with session_factory(engine())() as session:
        return sign_in_rules.must_change_password(session, username)


def change_own_password(viewer, old: str, new: str, *, keep_token: str | None) -> None:
    """The signed-in user replaces their password; their other browsers are signed out."""
    with transaction(engine()) as session:
        sign_in_rules.change_password(session, viewer.username, old, new, keep_token=keep_token)


def reset_password(viewer, username: str) -> str:
    """An admin gives ``username`` a one-time password (returned once, to hand over)."""
    with transaction(engine()) as session:
        return sign_in_rules.reset_password(session, viewer, username)


def set_active(viewer, username: str, active: bool) -> None:
    require_admin(viewer, "disable or enable an account")
    with transaction(engine()) as session:
        account_rules.set_active(session, username, active, actor=viewer.username)


def move_grids(viewer, source: str, target: str, codes: tuple[str, ...]) -> list[str]:
    require_admin(viewer, "move grids between leaders")
    with transaction(engine()) as session:
        moved = account_rules.move_grids(session, source, target, codes, actor=viewer.username)
    bump_epoch()
    return moved


def log_entries(viewer) -> pd.DataFrame:
    require_admin(viewer, "read the admin log")
    with session_factory(engine())() as session:
        return admin_log.entries(session)


def import_account_file(viewer, payload: bytes, name: str, *, dry_run: bool) -> tuple[object, str]:
    """Check (``dry_run``) or apply an account file; the report and the new accounts' one-time
    passwords as CSV text (empty when none), for one download."""
    require_admin(viewer, "create or change accounts")
    kept: list[str] = []
    report = account_files.import_accounts(engine(), payload, name=name, actor=viewer.username, dry_run=dry_run,
                                           keep_passwords=lambda done: kept.append(account_files.passwords_csv(done)))
    if report.written:
        bump_epoch()
    return report, "".join(kept)


def import_member_file(viewer, payload: bytes, name: str):
    require_admin(viewer, "record team members")
    report = account_files.import_members(engine(), payload, name=name, actor=viewer.username)
    if report.written:
        bump_epoch()
    return report


def accounts_frame(viewer) -> pd.DataFrame:
    require_admin(viewer, "list the accounts")
    return account_jobs.list_users(engine())
