"""Widgets shared by the pages: the report form, the case-action form, flash messages.

They read widgets and call :mod:`dashboard.data`; errors from the domain are
shown in the page's language and nothing is written when one is raised.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.frames import case_table, timeline_table
from dashboard.i18n import translate
from governance.catalog import CHECK_CATEGORIES, Category, Severity
from governance.checklists import checklist_for
from governance.errors import (
    AttachmentError,
    DatabaseBusy,
    IllegalTransition,
    LinpuError,
    NotFoundError,
    OutsideGrids,
    PermissionDenied,
    VersionConflict,
)
from governance.settings import get_settings

FLASH_KEY = "linpu_flash"
#: Actions that need a written reason.
REASON_ACTIONS = {"dismiss", "close_not_responsible", "reopen"}


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
    for kind, key in _TRANSLATED_ERRORS:
        if isinstance(exc, kind):
            st.error(translate(key, lang))
            return
    st.error(translate("error.generic", lang, reason=str(exc)))


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
    where = "shop"
    if kind == "patrol":
        where = st.radio(t("report.where"), ["shop", "map"], horizontal=True, key="report-where",
                         format_func=lambda w: t(f"report.where_{w}"))
    shop_code = None
    if where == "shop":
        shop_code = st.selectbox(t("report.shop"), shops["shop_code"].tolist(), index=None,
                                 format_func=_shop_label(shops, lang), key="report-shop",
                                 placeholder=t("report.shop"))
    elif clicked is None:
        st.info(t("report.no_point"))
    else:
        st.caption(t("leader.clicked", lat=clicked[1], lon=clicked[0]))
    categories = [c.value for c in (CHECK_CATEGORIES if kind == "check" else Category)]
    category = st.selectbox(t("report.category"), categories, key=f"report-category-{kind}",
                            format_func=lambda c: t(f"category.{c}"))

    with st.form(f"report-{kind}"):
        if kind == "patrol":
            severity = st.selectbox(t("report.severity"), [s.value for s in Severity], index=1,
                                    format_func=lambda s: t(f"severity.{s}"), key="report-severity")
            title = st.text_input(t("report.title"), max_chars=120, key="report-title")
            description = st.text_area(t("report.description"), max_chars=2000, key="report-description")
            photos = st.file_uploader(t("report.photos", mb=f"{settings.max_attachment_mb:g}"),
                                      type=["jpg", "jpeg", "png", "webp"], accept_multiple_files=True,
                                      key="report-photos")
        else:
            st.markdown(f"**{t('report.checklist')}**")
            answers = {
                item.code: st.checkbox(item.zh if lang == "zh" else item.en, value=True,
                                       key=f"check-{item.code}")
                for item in checklist_for(category)
            }
            note = st.text_area(t("report.note"), max_chars=2000, key="check-note")
        submitted = st.form_submit_button(t("report.submit"), type="primary")
    if not submitted:
        return

    if where == "shop" and not shop_code:
        st.error(t("report.missing_shop"))
        return
    if kind == "check":
        try:
            check_no, case_no = data.record_check(viewer, shop_code=shop_code, category=category,
                                                  answers=answers, note=note)
        except LinpuError as exc:
            show_error(exc, lang)
            return
        done(t("report.check_passed", check_no=check_no) if case_no is None
              else t("report.check_failed", check_no=check_no, case_no=case_no))
        return

    if not title.strip():
        st.error(t("report.missing_title"))
        return
    if where == "map" and clicked is None:
        st.error(t("report.no_point"))
        return
    limit = settings.max_attachment_mb * 1024 * 1024
    for photo in photos or []:
        if photo.size > limit:
            st.error(t("report.too_large", name=photo.name, mb=f"{settings.max_attachment_mb:g}"))
            return
    if where == "shop":
        point = shops.loc[shops["shop_code"] == shop_code, "geometry"].iloc[0]
        lon, lat = point.x, point.y
    else:
        lon, lat = clicked
    try:
        case_no = data.file_case(
            viewer, kind="patrol", category=category, severity=severity, title=title.strip(),
            description=description, lon=lon, lat=lat, shop_code=shop_code,
            attachments=[(p.name, p.type or "", p.getvalue()) for p in photos or []],
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
    done(t("report.filed", case_no=case_no))


def case_actions(viewer, case, lang: str, *, key: str, supervisor: bool = False) -> None:
    """The next steps the viewer may take with one case, with a note."""
    t = lambda k, **kw: translate(k, lang, **kw)  # noqa: E731
    actions = data.allowed_actions(viewer, int(case["case_id"]))
    if supervisor and str(case.get("kind")) == "service_request" and "dispatch" not in actions \
            and str(case["state"]) == "warning" and getattr(viewer, "is_supervising", False):
        actions = ["dispatch", *actions]
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
        submitted = st.form_submit_button(t("cases.apply"), type="primary")
    if not submitted:
        return
    if action in REASON_ACTIONS and not note.strip():
        st.error(t("cases.reason_missing"))
        return
    try:
        state = data.transition(viewer, int(case["case_id"]), action,
                                expected_version=int(case["version"]), note=note.strip(),
                                department=department.strip() or None)
    except LinpuError as exc:
        show_error(exc, lang)
        return
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
    case_actions(viewer, row, lang, key=key, supervisor=supervisor)
