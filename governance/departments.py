"""Departments (部门): who takes dispatched orders, and which service categories each answers for.

A department's people are ``department`` accounts (``governance.team_accounts``).
A department may be the default of some service categories (prefilled in the
dispatch form) and, only when asked (``--auto``), take new requests of a
category without a supervisor dispatching them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.catalog import DEFAULT_SERVICE_DEPARTMENTS, SERVICE_CATEGORIES, Category
from governance.clock import clock
from governance.errors import NotFoundError, ValidationError
from governance.models import Department, User
from governance.permissions import require_admin
from governance.viewer import Viewer


def _service_categories(values: Iterable[str], field: str) -> list[str]:
    allowed = [c.value for c in SERVICE_CATEGORIES]
    chosen = []
    for value in values:
        if value not in allowed:
            raise ValidationError(f"field {field}: {value!r} is not a service category; allowed: {', '.join(allowed)}")
        if value not in chosen:
            chosen.append(value)
    return chosen


def add_department(session: Session, viewer: Viewer, name: str, *, default_for: Iterable[str] = (),
                   auto_for: Iterable[str] = (), now: datetime | None = None) -> Department:
    """Create a department, or change the categories of the one of that name.

    A category is another department's default or automatic one no more: one
    department answers for a category.  ``auto_for`` implies ``default_for``.
    """
    require_admin(viewer, "add departments")
    name = (name or "").strip()
    if not name:
        raise ValidationError("field name: a department needs a name")
    if len(name) > 128:
        raise ValidationError(f"field name: {len(name)} characters; at most 128")
    auto = _service_categories(auto_for, "auto")
    default = _service_categories([*default_for, *auto], "default")
    department = session.scalar(select(Department).where(Department.name == name))
    if department is None:
        department = Department(name=name, default_for=[], auto_for=[], created_at=clock(now))
        session.add(department)
    for other in session.scalars(select(Department).where(Department.name != name)):
        other.default_for = [c for c in other.default_for or [] if c not in default]
        other.auto_for = [c for c in other.auto_for or [] if c not in default]
    department.default_for = sorted({*(department.default_for or []), *default})
    department.auto_for = sorted({*(department.auto_for or []), *auto})
    session.flush()
    return department


def department_named(session: Session, name: str) -> Department:
    """The department of this name; NotFoundError naming the known ones otherwise."""
    department = session.scalar(select(Department).where(Department.name == (name or "").strip()))
    if department is None:
        known = session.scalars(select(Department.name).order_by(Department.name)).all()
        raise NotFoundError(
            f"field department: no department named {name!r}; known: {', '.join(known) or 'none'} "
            "(add one with `linpu departments add NAME`)"
        )
    return department


def default_department(session: Session, category: Category | str) -> str | None:
    """The department name prefilled in the dispatch form for a case of ``category``.

    The department that claimed the category, else the practice's default for a
    service category (``catalog.DEFAULT_SERVICE_DEPARTMENTS``), else None.
    """
    for department in session.scalars(select(Department).order_by(Department.id)):
        if str(category) in (department.default_for or []):
            return department.name
    try:
        return DEFAULT_SERVICE_DEPARTMENTS.get(Category(category))
    except ValueError:
        return None


def auto_department(session: Session, category: Category | str) -> Department | None:
    """The department that takes new requests of ``category`` without a dispatch (``--auto``), if any."""
    for department in session.scalars(select(Department).order_by(Department.id)):
        if str(category) in (department.auto_for or []):
            return department
    return None


def departments_frame(session: Session) -> pd.DataFrame:
    """name, default_for, auto_for (``;``-separated), people (active department accounts)."""
    rows = []
    for department in session.scalars(select(Department).order_by(Department.name)):
        people = session.scalars(
            select(User.username).where(User.department_id == department.id, User.is_active.is_(True))
        ).all()
        rows.append((department.name, ";".join(department.default_for or []), ";".join(department.auto_for or []),
                     len(people)))
    return pd.DataFrame(rows, columns=["name", "default_for", "auto_for", "people"])


__all__ = ["add_department", "auto_department", "default_department", "department_named", "departments_frame"]
