"""Before and after: which photos of a case show the problem and which its fix, and the safety rule.

Photos may be attached at every step; a photo belongs to the step whose
history row it is attached to.  Those of the steps that report the problem
(raise, add_finding, take_on, dispatch) are *before*, those of the steps
that report the fix (resolve, confirm) are *after*; the rest (reopen,
dismiss, …) are shown in the timeline only.  Resolving a safety case
(``catalog.SAFETY_CATEGORIES``) needs an after photo or a stated reason why
there is none (:func:`require_after_evidence`, called by
``workflow.transition``); the reason is kept in the resolve row's details.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.attachments import attachment_path
from governance.catalog import SAFETY_CATEGORIES, Category
from governance.errors import NotFoundError, ValidationError
from governance.models import Attachment, Case, CaseHistory
from governance.permissions import Viewer, require_grid

BEFORE_ACTIONS = frozenset({"raise", "add_finding", "take_on", "dispatch"})
AFTER_ACTIONS = frozenset({"resolve", "confirm"})
PHOTO_COLUMNS = ["attachment_id", "seq", "action", "phase", "at", "content_type", "original_name", "path"]


def phase_of(action: str) -> str:
    """``before``, ``after`` or ``other`` for the photos of a step."""
    return "before" if action in BEFORE_ACTIONS else "after" if action in AFTER_ACTIONS else "other"


def after_photo_missing(category: Category | str, step: str, *, n_photos: int, reason: str) -> bool:
    """True when ``step`` resolves a safety case with neither an after photo nor a stated reason."""
    return step == "resolve" and Category(category) in SAFETY_CATEGORIES and n_photos == 0 and not reason.strip()


def require_after_evidence(case: Case, step: str, *, n_photos: int, reason: str) -> None:
    """ValidationError naming the case when :func:`after_photo_missing`."""
    if after_photo_missing(case.category, step, n_photos=n_photos, reason=reason):
        raise ValidationError(
            f"case {case.case_no} is a {Category(case.category).value} case: resolving it needs an 'after' photo "
            "of the fix, or a stated reason why there is none"
        )


def case_photos(session: Session, viewer: Viewer, case_id: int) -> pd.DataFrame:
    """The photos of one case, oldest step first, each with its step, phase and stored file."""
    grid_id = session.scalar(select(Case.grid_id).where(Case.id == case_id))
    if grid_id is None:
        raise NotFoundError(f"no case with id {case_id}")
    require_grid(viewer, grid_id)
    rows = session.execute(
        select(Attachment, CaseHistory.seq, CaseHistory.action, CaseHistory.at)
        .join(CaseHistory, CaseHistory.id == Attachment.history_id)
        .where(Attachment.case_id == case_id)
        .order_by(CaseHistory.seq, Attachment.id)
    ).all()
    return pd.DataFrame(
        [{"attachment_id": a.id, "seq": seq, "action": action, "phase": phase_of(action), "at": at,
          "content_type": a.content_type, "original_name": a.original_name, "path": str(attachment_path(a))}
         for a, seq, action, at in rows],
        columns=PHOTO_COLUMNS,
    )


def no_photo_reasons(session: Session, viewer: Viewer, case_id: int) -> list[str]:
    """The reasons given for resolving the case without an after photo, oldest first."""
    grid_id = session.scalar(select(Case.grid_id).where(Case.id == case_id))
    if grid_id is None:
        raise NotFoundError(f"no case with id {case_id}")
    require_grid(viewer, grid_id)
    details = session.scalars(select(CaseHistory.details).where(CaseHistory.case_id == case_id,
                                                                CaseHistory.action == "resolve")
                              .order_by(CaseHistory.seq)).all()
    return [d["no_photo_reason"] for d in details if d and d.get("no_photo_reason")]
