"""``linpu users add|import|list|reset|disable|enable|move-grids|scope``: accounts, roles and grid scope."""

from __future__ import annotations

import click

from governance.catalog import MEMBER_KINDS, Role
from pipelines.accounts import import_accounts_to_file
from pipelines.commands.common import LinpuGroup, echo_file_report, echo_json, open_current_database
from pipelines.users import (
    add_user,
    list_users,
    move_grids,
    reset_password,
    set_active,
    set_user_scope,
)


@click.group("users", cls=LinpuGroup)
def users() -> None:
    """Accounts: add, import a file, list, reset a password, disable, enable, move grids, scope."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", "display_name", default="", help="Name shown in the app (Chinese).")
@click.option("--grid", "grid_codes", multiple=True, help="Grid code a grid leader leads or a member serves; repeat.")
@click.option("--member-kind", type=click.Choice([k.value for k in MEMBER_KINDS]), default=None,
              help="A member's kind (role member).")
@click.option("--department", default=None, help="The department of a department account (`linpu departments add`).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when not given.")
def users_add(username, role, display_name, grid_codes, member_kind, department, password):
    """Create an account (argon2-hashed password)."""
    engine = open_current_database()
    add_user(engine, username=username, password=password, role=role, display_name=display_name,
             grid_codes=tuple(grid_codes), member_kind=member_kind, department=department)
    kind = f" ({member_kind})" if member_kind else ""
    scope = f", grids {', '.join(grid_codes)}" if grid_codes else ""
    of = f" of {department}" if department else ""
    click.echo(f"user {username} added as {role}{kind}{of}{scope}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
def users_list(as_json):
    """Every account with role, state and grids."""
    frame = list_users(open_current_database(announce=not as_json))
    if as_json:
        echo_json(frame.to_dict(orient="records"))
        return
    for row in frame.itertuples():
        state = "active" if row.active else "disabled"
        team = row.member_kind or row.department
        click.echo(f"{row.username}\t{row.display_name}\t{row.role}\t{state}\t{row.grids}" + (f"\t{team}" if team else ""))
    click.echo(f"{len(frame)} users")


@users.command("disable")
@click.argument("username")
def users_disable(username):
    """Stop an account from signing in (it and its history stay; its open sub-tasks go back to the leader)."""
    handed_back = set_active(open_current_database(), username, False)
    click.echo(f"user {username} disabled" + (f"; {handed_back} open sub-task(s) back with the grid leader"
                                                if handed_back else ""))


@users.command("enable")
@click.argument("username")
def users_enable(username):
    """Allow a disabled account to sign in again."""
    set_active(open_current_database(), username, True)
    click.echo(f"user {username} enabled")


@users.command("scope")
@click.argument("username")
@click.argument("node_id", required=False)
def users_scope(username, node_id):
    """Limit a supervisor to a node of the organisation tree (no NODE_ID: the whole district)."""
    set_user_scope(open_current_database(), username, node_id or None)
    click.echo(f"user {username} scope: {node_id or 'the whole district'}")


@users.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--passwords-out", type=click.Path(dir_okay=False),
              help="New file (mode 0600) for the new accounts' one-time passwords; refused if it exists.")
@click.option("--dry-run", is_flag=True, help="Check the file only.")
@click.option("--json", "as_json", is_flag=True)
def users_import(file, passwords_out, dry_run, as_json):
    """Create or update every account of FILE (CSV/XLSX: username, display_name, role, grids,
    member_kind, department, scope, phone); new accounts must set their own password at first sign-in."""
    report = import_accounts_to_file(open_current_database(announce=not as_json), file, passwords_out=passwords_out,
                             dry_run=dry_run)
    echo_file_report(report, as_json=as_json)


@users.command("reset")
@click.argument("username")
def users_reset(username):
    """Give USERNAME a one-time password (printed once) to be replaced at the next sign-in."""
    temporary = reset_password(open_current_database(), username)
    click.echo(f"user {username}: one-time password {temporary} (must be changed at the next sign-in)")


@users.command("move-grids")
@click.argument("source")
@click.argument("target")
@click.option("--grid", "grid_codes", multiple=True, help="Only this grid; repeat. Default: all of SOURCE's.")
def users_move_grids(source, target, grid_codes):
    """Hand SOURCE's grids to the grid leader TARGET (a leader leaves, a grid changes hands)."""
    moved = move_grids(open_current_database(), source, target, tuple(grid_codes))
    click.echo(f"{len(moved)} grids moved from {source} to {target}: {', '.join(moved)}")
