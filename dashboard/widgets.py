"""Widgets shared by the pages: the report form, the case-action form, flash messages.

They read widgets and call :mod:`dashboard.data`; errors from the domain are
shown in the page's language and nothing is written when one is raised.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import data
from dashboard.frames import case_table, timeline_table
from dashboard.i18n import translate
from governance.catalog import CHECK_CATEGORIES, SAFETY_CATEGORIES, Category, Severity
from governance.checklists import checklist_for
from governance.errors import (
    AttachmentError,
    DatabaseBusy,
    IllegalTransition,
    LinpuError,
    NotFoundError,
    OutsideDuty,
    OutsideGrids,
    PermissionDenied,
    VersionConflict,
)
from governance.photos import after_photo_missing
from governance.settings import get_settings

FLASH_KEY = "linpu_flash"
#: Actions that need a written reason.
REASON_ACTIONS = {"dismiss", "close_not_responsible", "reopen", "hide"}


def flash() -> None:
    """Show (once) the message a write left before its rerun."""
    message = st.session_state.pop(FLASH_KEY, None)
    # Always one element here, so the layout below keeps its identity.
    slot = st.empty()
    if message:
        slot.success(message)


def done(message: str) -> None:
    """Leave ``message`` for the next run and rerun the page (after a write)."""
    st.session_state[FLASH_KEY] = message
    st.rerun()


#: Errors whose cause the page can say in its own language; the others carry
#: the governance message (field, value, what is allowed) after a translated lead.
_TRANSLATED_ERRORS = (
    (VersionConflict, "error.version"),
    (DatabaseBusy, "error.busy"),
    (PermissionDenied, "error.permission"),
    (NotFoundError, "error.not_found"),
    (IllegalTransition, "error.illegal"),
)


def show_error(exc: Exception, lang: str) -> None:
    if isinstance(exc, OutsideDuty):
        st.error(outside_duty_text(exc, lang))
        return
    for kind, key in _TRANSLATED_ERRORS:
        if isinstance(exc, kind):
            st.error(translate(key, lang))
            return
    st.error(translate("error.generic", lang, reason=str(exc)))


def outside_duty_text(exc: OutsideDuty, lang: str) -> str:
    """A member's check of another kind's category, refused in the page's language."""
    allowed = [translate(f"category.{c}", lang) for c in exc.allowed]
    return translate("error.outside_duty", lang, kind=translate(f"member.{exc.kind}", lang),
                     category=translate(f"category.{exc.category}", lang),
                     allowed=("、" if lang == "zh" else ", ").join(allowed) or translate("member.no_kind_checks", lang))


def _shop_label(shops, lang):
    names = dict(zip(shops["shop_code"], shops["name"], strict=True))
    return lambda code: f"{names.get(code, '')} ({code})"


def report_form(viewer, shops, clicked: tuple[float, float] | None, lang: str) -> None:
    # Long: one form's widgets in the order the leader sees them.
    """File a patrol finding (at a shop or a clicked point) or a hazard check (at a shop)."""
    t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731
    settings = get_settings()
    kind = st.radio(t("report.kind"), ["patrol", "check"], horizontal=True, key="report-kind",
                    format_func=lambda k: t(f"report.{k}"))
    if kind == "check":
        check_form(viewer, shops, lang, CHECK_CATEGORIES)
        return
    where = st.radio(t("report.where"), ["shop", "map"], horizontal=True, key="report-where",
                     format_func=lambda w: t(f"report.where_{w}"))
    shop_code = None
    if where == "shop":
        shop_code = _shop_picker(shops, lang)
    elif clicked is None:
        st.info(t("report.no_point"))
    else:
        st.caption(t("leader.clicked", lat=clicked[1], lon=clicked[0]))
    category = st.selectbox(t("report.category"), [c.value for c in Category], key="report-category-patrol",
                            format_func=lambda c: t(f"category.{c}"))
    point = _report_point(shops, shop_code, clicked if where == "map" else None)
    if point is not None:
        duplicate_offer(viewer, data.duplicate_candidates(viewer, category=category, lon=point[0], lat=point[1]),
                        lang)

    with st.form("report-patrol"):
        severity = st.selectbox(t("report.severity"), [s.value for s in Severity], index=1,
                                format_func=lambda s: t(f"severity.{s}"), key="report-severity")
        title = st.text_input(t("report.title"), max_chars=120, key="report-title")
        description = st.text_area(t("report.description"), max_chars=2000, key="report-description")
        photos = st.file_uploader(t("report.photos", mb=f"{settings.max_attachment_mb:g}"),
                                  type=["jpg", "jpeg", "png", "webp"], accept_multiple_files=True,
                                  key=_upload_key("report-photos"))
        submitted = st.form_submit_button(t("report.submit"), type="primary")
    if not submitted:
        return

    if where == "shop" and not shop_code:
        st.error(t("report.missing_shop"))
        return
    if not title.strip():
        st.error(t("report.missing_title"))
        return
    if where == "map" and clicked is None:
        st.error(t("report.no_point"))
        return
    attachments = _photos(photos, lang)
    if attachments is None:
        return
    lon, lat = point
    try:
        case_no = data.file_case(
            viewer, kind="patrol", category=category, severity=severity, title=title.strip(),
            description=description, lon=lon, lat=lat, shop_code=shop_code, attachments=attachments,
        )
    except AttachmentError as exc:
        # The catalogue's sentence names the file; the governance message would repeat it in English.
        st.error(t("report.not_image", name=exc.name))
        return
    except (OutsideGrids, PermissionDenied):
        st.error(t("leader.click_outside"))
        return
    except LinpuError as exc:
        show_error(exc, lang)
        return
    _photos_sent()
    done(t("report.filed", case_no=case_no))


def _shop_picker(shops, lang: str) -> str | None:
    return st.selectbox(translate("report.shop", lang), shops["shop_code"].tolist(), index=None,
                        format_func=_shop_label(shops, lang), key="report-shop",
                        placeholder=translate("report.shop", lang))


def check_form(viewer, shops, lang: str, categories) -> None:
    """Record a routine check of one of ``shops`` against a checklist of ``categories``; a failed item
    raises a case.  The one check form: the leader's (every check) and the member's (its kind's)."""
    t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731
    shop_code = _shop_picker(shops, lang)
    category = st.selectbox(t("report.category"), [Category(c).value for c in categories],
                            key="report-category-check", format_func=lambda c: t(f"category.{c}"))
    with st.form("report-check"):
        st.markdown(f"**{t('report.checklist')}**")
        answers = {
            item.code: st.checkbox(item.zh if lang == "zh" else item.en, value=True, key=f"check-{item.code}")
            for item in checklist_for(category)
        }
        note = st.text_area(t("report.note"), max_chars=2000, key="check-note")
        submitted = st.form_submit_button(t("report.submit"), type="primary")
    if not submitted:
        return
    if not shop_code:
        st.error(t("report.missing_shop"))
        return
    try:
        check_no, case_no = data.record_check(viewer, shop_code=shop_code, category=category, answers=answers,
                                              note=note)
    except LinpuError as exc:
        show_error(exc, lang)
        return
    done(t("report.check_passed", check_no=check_no) if case_no is None
         else t("report.check_failed", check_no=check_no, case_no=case_no))


def _report_point(shops, shop_code: str | None, clicked: tuple[float, float] | None) -> tuple[float, float] | None:
    if shop_code:
        point = shops.loc[shops["shop_code"] == shop_code, "geometry"].iloc[0]
        return point.x, point.y
    return clicked


#: Bumped after photos are stored: the uploaders get new keys and come back empty, so the next
#: step does not attach the same photos again (Streamlit lets no code empty an uploader).
_UPLOAD_ROUND = "linpu_upload_round"


def _upload_key(base: str) -> str:
    return f"{base}-{st.session_state.get(_UPLOAD_ROUND, 0)}"


def _photos_sent() -> None:
    st.session_state[_UPLOAD_ROUND] = st.session_state.get(_UPLOAD_ROUND, 0) + 1


def _photos(uploads, lang: str) -> list[tuple[str, str, bytes]] | None:
    """The uploaded photos as (name, type, bytes); None (and an error shown) if one is too large."""
    limit_mb = get_settings().max_attachment_mb
    for photo in uploads or []:
        if photo.size > limit_mb * 1024 * 1024:
            st.error(translate("report.too_large", lang, name=photo.name, mb=f"{limit_mb:g}"))
            return None
    return [(p.name, p.type or "", p.getvalue()) for p in uploads or []]


def duplicate_offer(viewer, near, lang: str) -> None:
    """An open case of the category nearby is shown first, with a form adding the new finding to it."""
    if near.empty:
        return
    t = lambda k, **kw: translate(k, lang, **kw)  # noqa: E731
    first = near.iloc[0]
    st.warning(t("dup.found", n=len(near), case_no=first["case_no"], title=first["title"],
                 distance=f"{first['distance_m']:.0f}", state=t(f"state.{first['state']}")))
    labels = {int(r.case_id): t("dup.option", case_no=r.case_no, title=r.title, distance=f"{r.distance_m:.0f}")
              for r in near.itertuples()}
    with st.form("dup-add"):
        case_id = st.selectbox(t("dup.case"), list(labels), format_func=labels.get, key="dup-case")
        note = st.text_area(t("dup.note"), max_chars=2000, key="dup-note")
        uploads = st.file_uploader(t("report.photos", mb=f"{get_settings().max_attachment_mb:g}"),
                                   type=["jpg", "jpeg", "png", "webp"], accept_multiple_files=True,
                                   key=_upload_key("dup-photos"))
        submitted = st.form_submit_button(t("dup.add"), type="primary")
    st.caption(t("dup.or_new"))
    if not submitted:
        return
    photos = _photos(uploads, lang)
    if photos is None:
        return
    if not note.strip() and not photos:
        st.error(t("dup.empty"))
        return
    version = int(near.loc[near["case_id"] == case_id, "version"].iloc[0])
    try:
        case_no = data.add_finding(viewer, case_id, expected_version=version, note=note.strip(), attachments=photos)
    except AttachmentError as exc:
        st.error(t("report.not_image", name=exc.name))
        return
    except LinpuError as exc:
        show_error(exc, lang)
        return
    _photos_sent()
    done(t("dup.added", case_no=case_no))


def merge_form(viewer, case, cases, lang: str, *, key: str) -> None:
    """A supervisor merges two open cases of one category; the later raised is closed as the duplicate."""
    t = lambda k, **kw: translate(k, lang, **kw)  # noqa: E731
    if not getattr(viewer, "is_supervising", False) or str(case["state"]) == "closed":
        return
    near = data.duplicate_candidates(viewer, category=str(case["category"]), lon=case.geometry.x,
                                     lat=case.geometry.y)
    same = cases[(cases["category"].astype(str) == str(case["category"])) & (cases["state"].astype(str) != "closed")]
    options = {int(r.case_id): (r.case_no, r.title, int(r.version)) for r in near.itertuples()}
    options |= {int(r.case_id): (r.case_no, r.title, int(r.version)) for r in same.itertuples()
                if int(r.case_id) not in options}
    options.pop(int(case["case_id"]), None)
    if not options:
        return
    with st.expander(t("dup.merge_title")), st.form(f"{key}-merge-{case['case_id']}"):
        other = st.selectbox(t("dup.merge_with"), list(options), key=f"{key}-merge-other",
                             format_func=lambda i: f"{options[i][0]} · {options[i][1]}")
        note = st.text_area(t("cases.note"), max_chars=2000, key=f"{key}-merge-note")
        submitted = st.form_submit_button(t("dup.merge"))
    if not submitted:
        return
    try:
        kept, closed = data.merge_cases(viewer, (int(case["case_id"]), int(case["version"])),
                                        (other, options[other][2]), note=note.strip())
    except LinpuError as exc:
        show_error(exc, lang)
        return
    done(t("dup.merged", kept=kept, closed=closed))


def case_actions(viewer, case, lang: str, *, key: str, supervisor: bool = False) -> None:
    """The next steps the viewer may take with one case, with a note."""
    t = lambda k, **kw: translate(k, lang, **kw)  # noqa: E731
    actions = data.allowed_actions(viewer, int(case["case_id"]))
    if supervisor and str(case.get("kind")) == "service_request" and "dispatch" not in actions \
            and str(case["state"]) == "warning" and getattr(viewer, "is_supervising", False):
        actions = ["dispatch", *actions]
    if supervisor and data.may_hide(viewer, int(case["case_id"])):
        actions = [*actions, "hide"]
    if not actions:
        st.caption(t("cases.no_actions"))
        return
    with st.form(f"{key}-action-{case['case_id']}"):
        action = st.radio(t("cases.next"), actions, format_func=lambda a: t(f"action.{a}"),
                          key=f"{key}-action-choice")
        # Prefilled with the category's department (a service's default); dispatched only when chosen.
        department = st.text_input(t("cases.department"), value=data.default_department(str(case["category"])),
                                   key=f"{key}-department") if supervisor else ""
        note = st.text_area(t("cases.note") + " / " + t("cases.reason"), max_chars=2000, key=f"{key}-note")
        uploads = st.file_uploader(t("photo.step", mb=f"{get_settings().max_attachment_mb:g}"),
                                   type=["jpg", "jpeg", "png", "webp"], accept_multiple_files=True,
                                   key=_upload_key(f"{key}-photos"))
        safety = Category(str(case["category"])) in SAFETY_CATEGORIES
        reason = st.text_input(t("photo.no_photo_reason"), key=f"{key}-no-photo",
                               help=t("photo.safety_rule")) if safety and "resolve" in actions else ""
        submitted = st.form_submit_button(t("cases.apply"), type="primary")
    if not submitted:
        return
    if action in REASON_ACTIONS and not note.strip():
        st.error(t("cases.reason_missing"))
        return
    attachments = _photos(uploads, lang)
    if attachments is None:
        return
    if after_photo_missing(str(case["category"]), action, n_photos=len(attachments), reason=reason):
        st.error(t("photo.after_missing"))
        return
    try:
        state = data.transition(viewer, int(case["case_id"]), action,
                                expected_version=int(case["version"]), note=note.strip(),
                                department=department.strip() or None, attachments=attachments,
                                after_photo_reason=reason.strip())
    except AttachmentError as exc:
        st.error(t("report.not_image", name=exc.name))
        return
    except LinpuError as exc:
        show_error(exc, lang)
        return
    _photos_sent()
    done(t("cases.done", case_no=case["case_no"], action=t(f"action.{action}"), state=t(f"state.{state}")))


def case_panel(viewer, cases, lang: str, *, key: str, supervisor: bool = False) -> None:
    """A table of cases; pick one to see its timeline and take its next step."""
    t = lambda k, **kw: translate(k, lang, **kw)  # noqa: E731
    st.dataframe(case_table(cases, language=lang), hide_index=True, width="stretch")
    case_no = st.selectbox(t("cases.pick"), cases["case_no"].tolist(), key=f"{key}-case")
    row = cases[cases["case_no"] == case_no].iloc[0]
    st.markdown(f"**{t('cases.timeline')}**")
    st.dataframe(timeline_table(data.case_timeline(viewer, int(row["case_id"])), language=lang),
                 hide_index=True, width="stretch")
    before_after(viewer, int(row["case_id"]), lang)
    case_actions(viewer, row, lang, key=key, supervisor=supervisor)
    if supervisor:
        merge_form(viewer, row, cases, lang, key=key)


#: Width of each photo in the before/after row: two fit side by side on a 390 px phone.
PHOTO_WIDTH = 160


def before_after(viewer, case_id: int, lang: str) -> None:
    """The case's photos of the problem (before) and of the fix (after) side by side in one row, each
    captioned with its phase and step, and the reason when it was resolved without an after photo."""
    found = data.case_photos(viewer, case_id)
    shown, reasons = found["photos"][found["photos"]["phase"] != "other"], found["reasons"]
    if shown.empty and not reasons:
        return
    st.markdown(f"**{translate('photo.before', lang)} / {translate('photo.after', lang)}**")
    # Before first, then after; one st.image row wraps like text instead of stacking as columns do on a phone.
    shown = shown.sort_values(["phase", "seq"], ascending=[False, True], kind="stable")
    if not shown.empty:
        st.image([Path(p).read_bytes() for p in shown["path"]], width=PHOTO_WIDTH,
                 caption=[f"{translate(f'photo.{phase}', lang)} · {translate(f'action.{action}', lang)}"
                          for phase, action in zip(shown["phase"], shown["action"], strict=True)])
    if "after" not in set(shown["phase"]):
        st.caption(translate("photo.no_after", lang))
    for reason in reasons:
        st.caption(translate("photo.reason_shown", lang, reason=reason))
