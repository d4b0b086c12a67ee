"""The closed loop: the only way a case is raised or changes state.

Which step may follow which, with what outcome and by whom, is the rules
table of ``governance.rules``; every function here checks its step there.

Every change writes the new state and one ``case_history`` row in the
caller's transaction, and the history row's ``seq`` is the case's new
``version``: a history with a gap or a duplicate would need two writers to
win the same version, which the version check (an ``UPDATE ... WHERE
version = :read``) forbids.  On PostgreSQL a loser blocks on the row lock
and then matches no row; on SQLite the write lock serialises writers the
same way (pysqlite begins the transaction at the first write, so the check
runs under the lock).  Either way the loser gets ``VersionConflict``.

Rights: see ``governance.permissions``.  ``now`` pins the clock in tests.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from governance.attachments import store_attachment
from governance.catalog import (
    CHECK_CATEGORIES,
    SERVICE_CATEGORIES,
    CaseKind,
    CaseState,
    Category,
    Outcome,
    Role,
    Severity,
    SubTaskState,
)
from governance.check_due import refresh_check_due
from governance.checklists import checklist_for, evaluate
from governance.compact import occupation_checks
from governance.departments import auto_department, department_named
from governance.errors import (
    IllegalTransition,
    NotFoundError,
    PermissionDenied,
    ValidationError,
    VersionConflict,
)
from governance.figures import count_raised, count_rating, count_step, standing_before
from governance.finding_place import place_findings
from governance.grids import check_point
from governance.models import Case, CaseHistory, Department, HazardCheck, Rating, Shop, SubTask
from governance.outbox import announce_rating, announce_step
from governance.permissions import Viewer, require_check, require_grid, require_write, system_viewer
from governance.photos import require_after_evidence
from governance.rules import POOR_RATING, REQUESTER, RULES, action_of, rating_step, who_may
from governance.settings import get_settings
from governance.sla import due_time, follow_up_due_time
from governance.working_time import WorkingCalendar, working_calendar

W, P, F, C = CaseState.WARNING, CaseState.IN_PROGRESS, CaseState.FOLLOW_UP, CaseState.CLOSED

#: Steps with a function of their own: raise (file_case), request (file_public_request), hide
#: (governance.public_requests), dispatch (names a department),
#: regrid (governance.grids), add_finding, merge and merged_in (governance.duplicates);
#: the requester's rating steps are rate_case's.
#: accept and return are the department's (governance.orders), resolve_by_sub_tasks the server's
#: (governance.sub_tasks); dispatch_order is dispatch's; a plain dispatch is only replayed from old histories.
_OWN_FUNCTION = frozenset({"raise", "request", "dispatch", "regrid", "add_finding", "merge", "merged_in", "hide",
                           "accept", "return", "dispatch_order", "resolve_by_sub_tasks"})
#: The steps ``transition`` takes, in the table's order, which is the UI's button order.
ACTION_ORDER = tuple(step for step, rule in RULES.items() if step not in _OWN_FUNCTION and not rule.ratings)
ACTIONS = frozenset(ACTION_ORDER)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValidationError(f"now={now!r} has no timezone; give an aware datetime")
    return now


def _enum(enum, value, field: str):
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValidationError(f"{field}={value!r} is not known; allowed: {allowed}") from None


def record_numbers(prefix: str, days: Sequence[str]) -> list[str]:
    """Numbers for new cases (``L``) or checks (``K``): the prefix, the filing day
    (``YYYYMMDD``) and 8 random hex digits; unique in practice, checked by the
    unique column.  Random rather than the row id: the number is needed before
    the insert."""
    suffixes = secrets.token_bytes(4 * len(days)).hex().upper()
    return [f"{prefix}{day}-{suffixes[8 * i : 8 * i + 8]}" for i, day in enumerate(days)]


def _new_no(prefix: str, now: datetime) -> str:
    return record_numbers(prefix, [f"{now:%Y%m%d}"])[0]


def failed_check_case(category: Category, result, note: str, check_no: str) -> tuple[str, str, str]:
    """Title, description and history note of the case a failed check raises (``result`` from
    ``checklists.evaluate``)."""
    items = {item.code: item for item in checklist_for(category)}
    failed = [items[code] for code in result.failed]
    title = ("未通过：" + "；".join(item.zh for item in failed))[:255]
    description = "\n".join(f"{item.code}: {item.en}" for item in failed) + (f"\n{note}" if note else "")
    return title, description, f"hazard check {check_no} failed {len(failed)} item(s)"


def _load_case(session: Session, viewer: Viewer, case_id: int) -> Case:
    case = session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise NotFoundError(f"no case with id {case_id}")
    require_grid(viewer, case.grid_id)
    return case


def _history(session: Session, case: Case, viewer: Viewer, action: str, from_state, *, note: str,
             now: datetime, details: Mapping | None = None) -> CaseHistory:
    row = CaseHistory(
        case_id=case.id, seq=case.version, at=now, actor_id=viewer.user_id, action=action,
        from_state=from_state, to_state=case.state, note=note or "",
        details={"actor": viewer.username, **(details or {})},
    )
    session.add(row)
    session.flush()
    announce_step(session, case, action, row.seq, now=now, details=row.details, note=row.note)
    return row


def _write_change(session: Session, case: Case, viewer: Viewer, action: str, from_state, *, note: str,
                  now: datetime, details: Mapping | None = None) -> CaseHistory:
    case_no = case.case_no  # after a failed flush the session may not load attributes
    before = standing_before(case)  # the stored figures move by the step's difference
    try:
        session.flush()  # the UPDATE ... WHERE version = :read; zero rows means someone else won
    except StaleDataError:
        raise VersionConflict(
            f"case {case_no} was changed by someone else while you worked on it; reload it and decide again"
        ) from None
    row = _history(session, case, viewer, action, from_state, note=note, now=now, details=details)
    count_step(session, case, before)
    _renovation_changed(session, case)
    return row


def _renovation_changed(session: Session, case: Case) -> None:
    # An open construction case makes construction checks due for its shop.
    if case.category == Category.CONSTRUCTION and case.shop_id is not None:
        refresh_check_due(session, [case.shop_id])


def allowed_actions(viewer: Viewer, case: Case) -> list[str]:
    """The actions this viewer may take on this case now (for the UI's buttons)."""
    if not viewer.may_write or not (viewer.is_district_wide or case.grid_id in viewer.grid_ids):
        return []
    return [
        action for action in ACTION_ORDER
        if case.state in RULES[action].sources and viewer.role in RULES[action].roles
    ]


def can_dispatch(viewer: Viewer, case: Case) -> bool:
    return viewer.role in RULES["dispatch_order"].roles and case.state in RULES["dispatch_order"].sources


def require_step(viewer: Viewer, step: str, what: str) -> None:
    """PermissionDenied unless the rules table lets the viewer's role take ``step``."""
    if viewer.role not in RULES[step].roles:
        raise PermissionDenied(f"only {who_may(step)} may {what}; {viewer.username} is a {viewer.role.value}")


def _allowed_text(viewer: Viewer, case: Case) -> str:
    actions = allowed_actions(viewer, case)
    return ", ".join(actions) if actions else "none"


def file_case(
    session: Session,
    viewer: Viewer,
    *,
    kind: CaseKind | str,
    category: Category | str,
    severity: Severity | str,
    title: str,
    description: str = "",
    lon: float,
    lat: float,
    shop_code: str | None = None,
    department: str | None = None,
    requester: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    now: datetime | None = None,
) -> Case:
    """Raise a case (state warning) at a point, in the current grid that contains it.

    Raises ValidationError (bad kind/category/severity/title/point),
    OutsideGrids (point in no grid, with the distance to the nearest),
    NotFoundError (unknown shop), PermissionDenied (analyst, or a grid leader
    filing outside their grids), AttachmentError.  Nothing is written then.
    """
    now = _now(now)
    if not viewer.may_write:
        require_write(viewer, None)
    require_step(viewer, "raise", "raise a case")
    kind = _enum(CaseKind, kind, "kind")
    category = _enum(Category, category, "category")
    severity = _enum(Severity, severity, "severity")
    if category in SERVICE_CATEGORIES and kind != CaseKind.SERVICE_REQUEST:
        raise ValidationError(f"category={category.value!r} is a service; only a service request may have it")
    title = _checked_title(title)
    check_point(lon, lat)
    shop = None
    if shop_code:
        shop = session.scalar(select(Shop).where(Shop.shop_code == shop_code))
        if shop is None:
            raise NotFoundError(f"shop_code={shop_code!r}: no such shop")
    places = place_findings(session, [lon], [lat], [shop.id if shop else None])
    grid_id = int(places.grid_ids[0])
    require_write(viewer, grid_id)
    case = _raise(
        session, viewer, kind=kind, category=category, severity=severity, title=title,
        description=description, point=check_point(lon, lat), grid_id=grid_id, shop=shop,
        department=department, requester=requester, now=now, note=places.notes[0],
    )
    _auto_dispatch(session, case, now)
    if attachments:
        _store_photos(session, viewer, case, _first_row(session, case), attachments)
    return case


def _checked_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise ValidationError("title is empty; say in a few words what was found")
    if len(title) > 255:
        raise ValidationError(f"title is {len(title)} characters long; at most 255 are allowed")
    return title


def file_public_request(
    session: Session,
    *,
    shop: Shop,
    category: Category,
    severity: Severity,
    title: str,
    description: str,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    now: datetime | None = None,
    about_shop: bool = False,
) -> Case:
    """The public's order or complaint (step ``request``): a service request at the shop, in the shop's grid.

    A complaint names the shop (``about_shop``), so a complaint closed as fixed counts in the badge rule;
    an order placed from the shop's page only takes its place.  Checks of the words and the sender are
    ``governance.public_requests``'.
    """
    now = _now(now)
    if shop.grid_id is None:
        raise ValidationError(f"shop {shop.shop_code} lies in no grid; rebuild the grids first")
    requester = Viewer(user_id=None, username=REQUESTER, role=Role.ANALYST)  # no account: only the name counts
    case = _raise(
        session, requester, kind=CaseKind.SERVICE_REQUEST, category=category, severity=severity,
        title=title[:255], description=description, point=shop.geometry, grid_id=shop.grid_id,
        shop=shop if about_shop else None, department=None, requester=REQUESTER, now=now, step="request",
    )
    # The same size and type checks as a staff photo; the system stores it, the public holds no write right.
    _store_photos(session, system_viewer(), case, _first_row(session, case), attachments)
    return case


def _first_row(session: Session, case: Case) -> CaseHistory:
    return session.scalar(select(CaseHistory).where(CaseHistory.case_id == case.id, CaseHistory.seq == 1))


def _raise(session: Session, viewer: Viewer, *, kind, category, severity, title, description, point,
           grid_id: int, shop: Shop | None, department, requester, now: datetime, note: str = "",
           step: str = "raise") -> Case:
    case = Case(
        case_no=_new_no("L", now), kind=kind, category=category, severity=severity, title=title,
        description=description or "", geometry=point, grid_id=grid_id, shop_id=shop.id if shop else None,
        reporter_id=viewer.user_id, state=RULES[step].target, created_at=now,
        due_at=due_time(now, category, severity, calendar=working_calendar(session)),
        department=department or None, requester=requester or None, reopen_count=0,
        occupation=(occupation_checks(session, [point.x], [point.y], [now])[0]
                    if category == Category.ROAD_OCCUPATION else None),
    )
    session.add(case)
    session.flush()
    _history(session, case, viewer, action_of(step), None, note=note, now=now)
    count_raised(session, {(grid_id, str(case.category)): 1})
    _renovation_changed(session, case)
    return case


def transition(
    session: Session,
    viewer: Viewer,
    case_id: int,
    action: str,
    *,
    expected_version: int,
    note: str = "",
    outcome: Outcome | str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    after_photo_reason: str | None = None,
    now: datetime | None = None,
) -> Case:
    # Long: one step's checks, state change, history row and figures, kept together so a reader sees the whole step.
    """Move a case one step along the loop.

    ``expected_version`` is the version the user saw; if the case has moved
    on since, VersionConflict.  An action the state does not allow raises
    IllegalTransition naming the state and the actions allowed now.
    ``outcome`` applies to closing actions: confirm -> fixed; dismiss ->
    no_action_needed (default) or duplicate; close_not_responsible ->
    not_responsible.  The history row carries who, when, from, to and note;
    ``attachments`` (name, type, bytes) are stored on it.  A caller that asks
    the user (the pages) passes ``after_photo_reason`` (``""`` when none was
    given): resolving a safety case then needs a photo or that reason
    (``governance.photos``); ``None`` skips the question (scripts, imports).
    """
    now = _now(now)
    if action not in ACTIONS:
        raise ValidationError(f"action={action!r} is not known; allowed: {', '.join(ACTION_ORDER)}")
    case = checked_case(session, viewer, case_id, action, expected_version=expected_version)
    rule = RULES[action]
    if outcome is not None and not rule.outcomes:
        raise ValidationError(f"outcome={outcome!r}: {action} does not close the case, so it takes no outcome")
    chosen = None
    if rule.outcomes:
        chosen = rule.outcomes[0] if outcome is None else _enum(Outcome, outcome, "outcome")
        if chosen not in rule.outcomes:
            raise ValidationError(
                f"outcome={chosen.value!r} does not fit {action}; allowed: {', '.join(o.value for o in rule.outcomes)}"
            )
    if after_photo_reason is not None:
        require_after_evidence(case, action, n_photos=len(attachments), reason=after_photo_reason)
    if action == "resolve" and not note.strip() and _open_sub_tasks(session, case.id):
        raise ValidationError(f"case {case.case_no} has sub-tasks not done: state the reason for resolving it "
                              "without them (note)")
    from_state = case.state
    case.state = rule.target
    if action == "resolve":
        case.resolved_at = now
        case.follow_up_due_at = follow_up_due_time(now, case.category, calendar=working_calendar(session))
    elif action == "reopen":
        _reopen_fields(case, now, working_calendar(session))
    if rule.target == C:
        case.outcome = chosen
        case.closed_at = now
    details = {"outcome": chosen.value} if chosen else {}
    if after_photo_reason and after_photo_reason.strip() and not attachments:
        details["no_photo_reason"] = after_photo_reason.strip()
    row = _write_change(session, case, viewer, action, from_state, note=note, now=now, details=details or None)
    _store_photos(session, viewer, case, row, attachments)
    return case


def _store_photos(session: Session, viewer: Viewer, case: Case, row: CaseHistory,
                  attachments: Sequence[tuple[str, str, bytes]]) -> None:
    for filename, content_type, data in attachments:
        store_attachment(session, viewer, case.id, filename=filename, content_type=content_type,
                         data=data, history_id=row.id)


def _open_sub_tasks(session: Session, case_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(SubTask)
                              .where(SubTask.case_id == case_id, SubTask.state != SubTaskState.DONE)))


def checked_case(session: Session, viewer: Viewer, case_id: int, step: str, *, expected_version: int) -> Case:
    """The case, once the viewer may write it, it is at the version they saw and ``step`` starts from its state."""
    case = _load_case(session, viewer, case_id)
    require_write(viewer, case.grid_id)
    if case.version != expected_version:
        raise VersionConflict(
            f"case {case.case_no} is at version {case.version}, you saw version {expected_version}: "
            "someone else changed it; reload it and decide again"
        )
    rule = RULES[step]
    if case.state not in rule.sources:
        raise IllegalTransition(
            f"case {case.case_no} is {case.state.value}: cannot {step} "
            f"(needs {' or '.join(sorted(s.value for s in rule.sources))}); "
            f"allowed now: {_allowed_text(viewer, case)}"
        )
    require_step(viewer, step, step.replace("_", " ") + " a case")
    return case


def write_step(session: Session, viewer: Viewer, case: Case, step: str, *, note: str, now: datetime,
               details: Mapping | None = None, attachments: Sequence[tuple[str, str, bytes]] = ()) -> CaseHistory:
    """Apply a step of the table that :func:`checked_case` allowed: its state (and outcome), history row, photos."""
    rule = RULES[step]
    from_state = case.state
    if rule.target is not None:
        case.state = rule.target
    else:
        flag_modified(case, "state")  # the state stays, but the step is one more version of the case
    if rule.target == C:
        case.outcome = rule.outcomes[0] if rule.outcomes else None
        case.closed_at = now
    row = _write_change(session, case, viewer, action_of(step), from_state, note=note, now=_now(now),
                        details=details)
    _store_photos(session, viewer, case, row, attachments)
    return row


def _reopen_fields(case: Case, now: datetime, calendar: WorkingCalendar) -> None:
    # The rework gets a fresh deadline so that "overdue" stays actionable; the
    # reopen itself already keeps the case out of the on-time figure.
    case.reopen_count = (case.reopen_count or 0) + 1
    case.outcome = None
    case.closed_at = None
    case.follow_up_due_at = None
    case.due_at = due_time(now, case.category, case.severity, calendar=calendar)


def dispatch(
    session: Session,
    viewer: Viewer,
    case_id: int,
    *,
    department: str,
    expected_version: int,
    note: str = "",
    attachments: Sequence[tuple[str, str, bytes]] = (),
    now: datetime | None = None,
) -> Case:
    """党委派单: a supervisor hands a warning to a department; it stays a warning until the
    department accepts it (``governance.orders``), its acceptance clock running.

    The department must exist (``linpu departments add``).
    """
    now = _now(now)
    case = _load_case(session, viewer, case_id)
    require_write(viewer, case.grid_id)
    require_step(viewer, "dispatch_order", "dispatch a case to a department")
    if not (department or "").strip():
        raise ValidationError("department is empty; name the department that takes the case on")
    target = department_named(session, department)
    if case.version != expected_version:
        raise VersionConflict(
            f"case {case.case_no} is at version {case.version}, you saw version {expected_version}: "
            "someone else changed it; reload it and decide again"
        )
    if case.state not in RULES["dispatch_order"].sources:
        raise IllegalTransition(
            f"case {case.case_no} is {case.state.value}: only a warning can be dispatched; "
            f"allowed now: {_allowed_text(viewer, case)}"
        )
    _order_to(session, case, target, now)
    write_step(session, viewer, case, "dispatch_order", note=note, now=now,
               details={"department": target.name, "department_id": target.id}, attachments=attachments)
    return case


def _order_to(session: Session, case: Case, department: Department, now: datetime) -> None:
    case.department, case.department_id = department.name, department.id
    case.accept_due_at = working_calendar(session).add_working(
        now, timedelta(hours=get_settings().accept_limit_hours))
    case.accepted_at = case.order_due_at = None


def _auto_dispatch(session: Session, case: Case, now: datetime) -> None:
    # `linpu departments add NAME --auto CATEGORY`: the department takes new requests of the
    # category without a supervisor; the step is still a dispatch by the system, in the history.
    department = auto_department(session, case.category)
    if department is None or case.kind != CaseKind.SERVICE_REQUEST:
        return
    _order_to(session, case, department, now)
    write_step(session, system_viewer(), case, "dispatch_order", note="automatic dispatch", now=now,
               details={"department": department.name, "department_id": department.id, "auto": True})


def record_check(
    session: Session,
    viewer: Viewer,
    *,
    shop_code: str,
    category: Category | str,
    answers: Mapping[str, bool],
    note: str = "",
    now: datetime | None = None,
) -> tuple[HazardCheck, Case | None]:
    """Record a routine hazard check of a shop; a failed item raises a hazard_check case.

    The case takes the worst severity among the failed items and lies at the
    shop, in the shop's grid.  Every checklist item must be answered; a member checks in its
    grids and only its kind's categories (``permissions.require_check``).
    """
    now = _now(now)
    category = _enum(Category, category, "category")
    if category not in CHECK_CATEGORIES:
        raise ValidationError(
            f"category={category.value!r} has no checklist; hazard checks are: "
            + ", ".join(c.value for c in CHECK_CATEGORIES)
        )
    shop = session.scalar(select(Shop).where(Shop.shop_code == shop_code))
    if shop is None:
        raise NotFoundError(f"shop_code={shop_code!r}: no such shop")
    if shop.grid_id is None:
        raise ValidationError(f"shop {shop_code} lies in no grid; rebuild the grids before checking it")
    require_check(viewer, shop.grid_id, category)
    require_step(viewer, "raise", "record a check (a failed one raises a case)")
    try:
        result = evaluate(category, {str(k): bool(v) for k, v in answers.items()})
    except ValueError as exc:
        raise ValidationError(f"answers: {exc}") from None
    check = HazardCheck(
        check_no=_new_no("K", now), shop_id=shop.id, category=category, answers=dict(answers),
        passed=result.passed, inspector_id=viewer.user_id, performed_at=now, note=note or "",
    )
    session.add(check)
    case = None
    if not result.passed:
        title, description, history_note = failed_check_case(category, result, note, check.check_no)
        case = _raise(
            session, viewer, kind=CaseKind.HAZARD_CHECK, category=category, severity=result.severity,
            title=title, description=description,
            point=shop.geometry, grid_id=shop.grid_id, shop=shop, department=None, requester=None,
            now=now, note=history_note,
        )
        check.case_id = case.id
    session.flush()
    refresh_check_due(session, [shop.id])
    return check, case


def rate_case(
    session: Session,
    *,
    case_id: int,
    rating: int,
    comment: str = "",
    rated_by: str = "",
    now: datetime | None = None,
) -> Rating:
    """群众评单: the requester rates a resolved service request 1–5.

    The rating is a step of the rules table (``rate`` in follow-up or once
    closed); a poor one of a closed request is ``reopen_after_rating`` (closed
    -> in_progress), recorded as a reopen whose note says it was the rating.
    """
    now = _now(now)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError(f"rating={rating!r} is not allowed; give a whole number from 1 (poor) to 5 (very good)")
    case = session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise NotFoundError(f"no case with id {case_id}")
    if case.kind != CaseKind.SERVICE_REQUEST:
        raise ValidationError(f"case {case.case_no} is a {case.kind.value}; only service requests are rated")
    step = rating_step(case.state, rating)
    if step is None:
        rateable = sorted({s.value for rule in RULES.values() if rule.ratings for s in rule.sources})
        raise IllegalTransition(
            f"case {case.case_no} is {case.state.value}: a request can be rated once it is resolved "
            f"({' or '.join(rateable)})"
        )
    row = Rating(case_id=case.id, rating=rating, comment=comment or "", rated_at=now, rated_by=rated_by or "")
    session.add(row)
    session.flush()
    rule = RULES[step]
    if rule.target is not None:
        from_state, case.state = case.state, rule.target
        _reopen_fields(case, now, working_calendar(session))
        # Not a user of ours: recorded by name; the role only fills the dataclass.
        requester = Viewer(user_id=None, username=rated_by or REQUESTER, role=Role.ANALYST)
        _write_change(
            session, case, requester, action_of(step), from_state,
            note=f"reopened by a poor rating ({rating}/5)" + (f": {comment}" if comment else ""),
            now=now, details={"rating_id": row.id, "rating": rating},
        )
    if rating <= POOR_RATING:
        announce_rating(session, case, rating_id=row.id, rating=rating, comment=comment or "",
                        reopened=rule.target is not None, now=now)
    count_rating(session, case, rating)
    return row


__all__ = [
    "ACTIONS", "ACTION_ORDER", "RULES", "IllegalTransition", "PermissionDenied", "VersionConflict",
    "allowed_actions", "can_dispatch", "checked_case", "dispatch", "file_case", "file_public_request", "rate_case", "record_check",
    "require_step", "transition", "write_step",
]
