"""team accounts and departments: member and department roles, departments, orders' clocks, sub-tasks, six services

Revision ID: 0014
Revises: 0009
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from governance.spatial import UTCDateTime

revision = "0014"
down_revision = "0015"
branch_labels = None
depends_on = None

OLD_ROLES = ("grid_leader", "supervisor", "analyst", "admin")
NEW_ROLES = ("grid_leader", "member", "department", "supervisor", "analyst", "admin")
OLD_CATEGORIES = ("electricity", "gas", "construction", "amusement_ride", "fire_exit", "sanitation",
                  "road_occupation", "fumes", "noise", "other")
NEW_CATEGORIES = (*OLD_CATEGORIES, "policy", "legal_advice", "finance", "jobs", "culture", "hardship_aid")
#: (table, column, CHECK name) whose allowed values this revision widens.
WIDENED = (
    ("users", "role", "user_role", OLD_ROLES, NEW_ROLES),
    ("cases", "category", "case_category", OLD_CATEGORIES, NEW_CATEGORIES),
    ("grid_category_stats", "category", "grid_category_stats_category", OLD_CATEGORIES, NEW_CATEGORIES),
)
SUB_TASK_STATES = ("open", "done", "returned")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _set_checks(new: bool) -> None:
    for table, column, name, old_values, new_values in WIDENED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
            batch_op.create_check_constraint(op.f(f"ck_{table}_{name}"),
                                             _in(column, new_values if new else old_values))


def _state(name: str, *, nullable: bool) -> sa.Column:
    return sa.Column(name.split(":")[0], sa.Enum(*SUB_TASK_STATES, name=name.split(":")[1], native_enum=False,
                                                 create_constraint=True, length=32), nullable=nullable)


def upgrade() -> None:
    _set_checks(new=True)
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("default_for", sa.JSON(), nullable=False),
        sa.Column("auto_for", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("name", name=op.f("uq_departments_name")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "member_kind",
            sa.Enum("leader", "property", "security", "fire", name="user_member_kind", native_enum=False,
                    create_constraint=True, length=32),
            nullable=True))
        batch_op.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_department_id"), ["department_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_users_department_id_departments"), "departments",
                                    ["department_id"], ["id"])
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("accept_due_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("accepted_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("order_due_at", UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_department_id"), ["department_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_cases_department_id_departments"), "departments",
                                    ["department_id"], ["id"])
    op.create_table(
        "sub_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        _state("state:sub_task_state", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("(assignee_id IS NULL) != (department_id IS NULL)", name=op.f("ck_sub_tasks_one_owner")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_sub_tasks_case_id_cases")),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_sub_tasks_assignee_id_users")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_sub_tasks_department_id_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sub_tasks")),
    )
    for column in ("case_id", "assignee_id", "department_id"):
        op.create_index(op.f(f"ix_sub_tasks_{column}"), "sub_tasks", [column], unique=False)
    op.create_table(
        "sub_task_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sub_task_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        _state("from_state:sub_task_from", nullable=True),
        _state("to_state:sub_task_to", nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["sub_task_id"], ["sub_tasks.id"],
                                name=op.f("fk_sub_task_history_sub_task_id_sub_tasks")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_sub_task_history_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sub_task_history")),
    )
    op.create_index(op.f("ix_sub_task_history_sub_task_id"), "sub_task_history", ["sub_task_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sub_task_history_sub_task_id"), table_name="sub_task_history")
    op.drop_table("sub_task_history")
    for column in ("case_id", "assignee_id", "department_id"):
        op.drop_index(op.f(f"ix_sub_tasks_{column}"), table_name="sub_tasks")
    op.drop_table("sub_tasks")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_department_id_departments"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_cases_department_id"))
        for column in ("order_due_at", "accepted_at", "accept_due_at", "department_id"):
            batch_op.drop_column(column)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_department_id_departments"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_users_department_id"))
        batch_op.drop_column("department_id")
        batch_op.drop_constraint(batch_op.f("ck_users_user_member_kind"), type_="check")
        batch_op.drop_column("member_kind")
    op.drop_table("departments")
    # Rows of the new roles and categories cannot go back: the narrower CHECKs would refuse them.
    op.execute("DELETE FROM grid_category_stats WHERE " + _in("category", NEW_CATEGORIES[len(OLD_CATEGORIES):]))
    _set_checks(new=False)
