"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 18:05:10.223209
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from governance.spatial import Geometry, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "electricity",
                "gas",
                "construction",
                "amusement_ride",
                "fire_exit",
                "sanitation",
                "road_occupation",
                "fumes",
                "noise",
                "other",
                name="schedule_category",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "trade",
            sa.Enum(
                "catering",
                "snacks",
                "tea",
                "retail",
                "clothing",
                "crafts",
                "convenience",
                "pharmacy",
                "lodging",
                "entertainment",
                "amusement",
                "services",
                name="schedule_trade",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("interval_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_schedules")),
        sa.UniqueConstraint("category", "trade", name="category_trade"),
    )
    op.create_table(
        "district_features",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column(
            "street_class",
            sa.Enum(
                "main",
                "street",
                "lane",
                name="street_class",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("geometry", Geometry("GEOMETRY"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_district_features")),
    )
    op.create_table(
        "grid_generations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_generations")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "grid_leader",
                "supervisor",
                "analyst",
                "admin",
                name="user_role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "grids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("n_shops", sa.Integer(), nullable=False),
        sa.Column("is_building", sa.Boolean(), nullable=False),
        sa.Column("geometry", Geometry("GEOMETRY"), nullable=False),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["grid_generations.id"],
            name=op.f("fk_grids_generation_id_grid_generations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("generation_id", "code", name="generation_code"),
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grids_generation_id"), ["generation_id"], unique=False)

    op.create_table(
        "grid_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "leader",
                "property",
                "security",
                "fire",
                name="member_role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
            name=op.f("fk_grid_members_grid_id_grids"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_grid_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_members")),
        sa.UniqueConstraint("grid_id", "role", "name", name="grid_role_name"),
    )
    with op.batch_alter_table("grid_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grid_members_grid_id"), ["grid_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grid_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "shops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "trade",
            sa.Enum(
                "catering",
                "snacks",
                "tea",
                "retail",
                "clothing",
                "crafts",
                "convenience",
                "pharmacy",
                "lodging",
                "entertainment",
                "amusement",
                "services",
                name="shop_trade",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("street", sa.String(length=128), nullable=False),
        sa.Column("party_member_operator", sa.Boolean(), nullable=False),
        sa.Column("geometry", Geometry("POINT"), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_shops_grid_id_grids")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shops")),
        sa.UniqueConstraint("shop_code", name=op.f("uq_shops_shop_code")),
    )
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shops_grid_id"), ["grid_id"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "patrol",
                "hazard_check",
                "service_request",
                name="case_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "category",
            sa.Enum(
                "electricity",
                "gas",
                "construction",
                "amusement_ride",
                "fire_exit",
                "sanitation",
                "road_occupation",
                "fumes",
                "noise",
                "other",
                name="case_category",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "severity",
            sa.Enum(
                "low",
                "medium",
                "high",
                "urgent",
                name="case_severity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("geometry", Geometry("POINT"), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "warning",
                "in_progress",
                "follow_up",
                "closed",
                name="case_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "fixed",
                "no_action_needed",
                "not_responsible",
                "duplicate",
                name="case_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("follow_up_due_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("department", sa.String(length=128), nullable=True),
        sa.Column("requester", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(state = 'closed') = (outcome IS NOT NULL)", name=op.f("ck_cases_outcome_iff_closed")
        ),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_cases_grid_id_grids")),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_cases_reporter_id_users")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_cases_shop_id_shops")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("case_no", name=op.f("uq_cases_case_no")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_cases_grid_state", ["grid_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_state"), ["state"], unique=False)

    op.create_table(
        "shop_badges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column(
            "badge",
            sa.Enum(
                "party_member_operator",
                "model_shop",
                "trusted_shop",
                "pioneer",
                name="badge",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("awarded_at", UTCDateTime(), nullable=False),
        sa.Column("awarded_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["awarded_by_id"], ["users.id"], name=op.f("fk_shop_badges_awarded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["users.id"], name=op.f("fk_shop_badges_revoked_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_shop_badges_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_badges")),
    )
    with op.batch_alter_table("shop_badges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_badges_shop_id"), ["shop_id"], unique=False)

    op.create_table(
        "case_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column(
            "from_state",
            sa.Enum(
                "warning",
                "in_progress",
                "follow_up",
                "closed",
                name="history_from",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_state",
            sa.Enum(
                "warning",
                "in_progress",
                "follow_up",
                "closed",
                name="history_to",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_case_history_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_history_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_history")),
        sa.UniqueConstraint("case_id", "seq", name="case_seq"),
    )
    with op.batch_alter_table("case_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_history_case_id"), ["case_id"], unique=False)

    op.create_table(
        "hazard_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_no", sa.String(length=64), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "electricity",
                "gas",
                "construction",
                "amusement_ride",
                "fire_exit",
                "sanitation",
                "road_occupation",
                "fumes",
                "noise",
                "other",
                name="check_category",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=True),
        sa.Column("performed_at", UTCDateTime(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_hazard_checks_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["inspector_id"], ["users.id"], name=op.f("fk_hazard_checks_inspector_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_hazard_checks_shop_id_shops")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_checks")),
        sa.UniqueConstraint("check_no", name=op.f("uq_hazard_checks_check_no")),
    )
    with op.batch_alter_table("hazard_checks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hazard_checks_shop_category", ["shop_id", "category", "performed_at"], unique=False
        )

    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", UTCDateTime(), nullable=False),
        sa.Column("rated_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_ratings_rating_range")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_ratings_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ratings_case_id"), ["case_id"], unique=False)

    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("history_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_attachments_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["history_id"], ["case_history.id"], name=op.f("fk_attachments_history_id_case_history")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["users.id"], name=op.f("fk_attachments_uploaded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachments_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachments_sha256"), ["sha256"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # Containment and nearest-grid queries run in PostGIS; GiST makes them indexed.
        for table in ("grids", "shops", "cases"):
            op.create_index(f"ix_{table}_geometry", table, ["geometry"], postgresql_using="gist")


def downgrade() -> None:
    op.drop_table("district_features")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_sha256"))
        batch_op.drop_index(batch_op.f("ix_attachments_case_id"))

    op.drop_table("attachments")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ratings_case_id"))

    op.drop_table("ratings")
    with op.batch_alter_table("hazard_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_hazard_checks_shop_category")

    op.drop_table("hazard_checks")
    with op.batch_alter_table("case_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_history_case_id"))

    op.drop_table("case_history")
    with op.batch_alter_table("shop_badges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_badges_shop_id"))

    op.drop_table("shop_badges")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_state"))
        batch_op.drop_index(batch_op.f("ix_cases_shop_id"))
        batch_op.drop_index("ix_cases_grid_state")
        batch_op.drop_index(batch_op.f("ix_cases_created_at"))

    op.drop_table("cases")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shops_grid_id"))

    op.drop_table("shops")
    with op.batch_alter_table("grid_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grid_members_user_id"))
        batch_op.drop_index(batch_op.f("ix_grid_members_grid_id"))

    op.drop_table("grid_members")
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grids_generation_id"))

    op.drop_table("grids")
    op.drop_table("users")
    op.drop_table("grid_generations")
    op.drop_table("check_schedules")
