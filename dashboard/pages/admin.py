"""The admin (the office clerk): the district's status, its map, register, grids, team and accounts,
and the admin log — every step of `linpu` without a shell, each calling the same job."""

from __future__ import annotations

import streamlit as st

from dashboard import accounts, office
from dashboard.auth import require
from dashboard.context import language
from dashboard.data import problems_frame
from dashboard.frames import admin_log_table
from dashboard.i18n import translate
from dashboard.register_upload import upload_section
from dashboard.widgets import done, flash
from governance.errors import LinpuError
from pipelines.accounts import codes

viewer = require("admin")
lang = language()
t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731


def show_problems(report) -> bool:
    """The file's problems as a table; True when there were any (nothing was written)."""
    if not report.problems:
        return False
    st.error(t("an.invalid", n=len(report.problems)))
    st.dataframe(problems_frame(report).rename(columns={"row": t("col.row"), "field": t("col.field"),
                                                        "message": t("col.message")}),
                 hide_index=True, width="stretch")
    return True


def attempt(work) -> tuple[bool, object]:
    """Run a step: (True, its result), or (False, None) with its domain error shown in words."""
    try:
        return True, work()
    except LinpuError as exc:
        st.error(t("error.generic", reason=str(exc)))
        return False, None


st.title(t("admin.title"))
flash()
# Keyed, so an upload's rerun keeps the clerk on the tab they were working in.
tabs = st.tabs([t(f"admin.tab.{name}") for name in ("status", "map", "register", "grids", "team", "log")],
               key="admin-tabs", on_change="rerun")

with tabs[0]:
    items = office.status()
    st.dataframe([{t("admin.col.item"): t(f"admin.item.{i.key}"), t("admin.col.count"): i.count,
                   t("admin.col.ok"): "✓" if i.ok else "✗", t("admin.col.fix"): "" if i.ok else i.fix}
                  for i in items], hide_index=True, width="stretch")
    gaps = sum(not i.ok for i in items)
    (st.warning if gaps else st.success)(t("admin.gaps", n=gaps) if gaps else t("admin.ready"))

with tabs[1]:
    with st.form("admin-map"):
        m1, m2 = st.columns(2)
        layer = m1.selectbox(t("admin.layer"), ["boundary", "streets"], key="admin-layer",
                             format_func=lambda v: t(f"admin.layer.{v}"))
        coords = m2.selectbox(t("an.coords"), ["wgs84", "gcj02", "bd09"], key="admin-map-coords")
        upload = st.file_uploader(t("admin.map_file"), key="admin-map-file",
                                  type=["geojson", "json", "gpkg", "zip", "kml", "pbf", "osm"])
        submitted = st.form_submit_button(t("admin.import"))
    if submitted and upload is not None:
        ok, report = attempt(lambda: office.import_district_layer(viewer, upload.getvalue(), upload.name,
                                                                  layer=layer, coords=coords, lang=lang))
        if ok:
            done(t("admin.map_done", layer=t(f"admin.layer.{layer}"), n=report.written))

with tabs[2]:
    upload_section(viewer, lang)

with tabs[3]:
    st.dataframe(office.grid_roster(), hide_index=True, width="stretch")
    with st.form("admin-build"):
        g1, g2, g3 = st.columns(3)
        target = g1.number_input(t("an.target"), min_value=4, max_value=40, value=10, key="admin-target")
        min_size = g2.number_input(t("an.min"), min_value=1, max_value=40, value=8, key="admin-min")
        max_size = g3.number_input(t("an.max"), min_value=2, max_value=80, value=12, key="admin-max")
        update = st.toggle(t("admin.update"), value=True, key="admin-update")
        replace = st.checkbox(t("admin.confirm_replace"), key="admin-confirm-replace")
        build = st.form_submit_button(t("admin.build"))
    if build and not replace:
        st.error(t("admin.confirm_first"))
    elif build:
        ok, result = attempt(lambda: office.build_grids(viewer, target=int(target), min_size=int(min_size),
                                                        max_size=int(max_size), update=update))
        if ok:
            done(result.summary())
    with st.form("admin-adopt"):
        grid_file = st.file_uploader(t("admin.grid_file"), type=["geojson", "json", "gpkg", "zip"],
                                     key="admin-grid-file")
        replace_file = st.checkbox(t("admin.confirm_replace"), key="admin-confirm-adopt")
        adopt = st.form_submit_button(t("admin.adopt"))
    if adopt and grid_file is not None and not replace_file:
        st.error(t("admin.confirm_first"))
    elif adopt and grid_file is not None:
        ok, report = attempt(lambda: office.adopt_grid_file(viewer, grid_file.getvalue(), grid_file.name))
        if ok and not show_problems(report):
            done(report.summary())

with tabs[4]:
    st.dataframe(accounts.accounts_frame(viewer), hide_index=True, width="stretch")
    account_file = st.file_uploader(t("admin.account_file"), type=["csv", "xlsx"], key="admin-account-file")
    if account_file is not None and st.button(t("admin.apply_accounts"), key="admin-apply-accounts"):
        ok, result = attempt(lambda: accounts.import_account_file(viewer, account_file.getvalue(),
                                                                  account_file.name, dry_run=False))
        if ok and not show_problems(result[0]):
            st.success(result[0].summary())
            if result[1]:
                st.warning(t("admin.passwords_once"))
                st.download_button(t("admin.passwords_download"), result[1].encode("utf-8-sig"),
                                   file_name="one-time-passwords.csv", mime="text/csv", key="admin-passwords")
    member_file = st.file_uploader(t("admin.member_file"), type=["csv", "xlsx"], key="admin-member-file")
    if member_file is not None and st.button(t("admin.apply_members"), key="admin-apply-members"):
        ok, report = attempt(lambda: accounts.import_member_file(viewer, member_file.getvalue(), member_file.name))
        if ok and not show_problems(report):
            done(report.summary())
    with st.form("admin-account-step"):
        a1, a2, a3, a4 = st.columns(4)
        step = a1.selectbox(t("admin.step"), ["reset", "disable", "enable", "move"], key="admin-step",
                            format_func=lambda s: t(f"admin.step.{s}"))
        username = a2.text_input(t("signin.username"), key="admin-username")
        other = a3.text_input(t("admin.move_to"), key="admin-move-to")
        moving = a4.text_input(t("admin.move_grids"), key="admin-move-grids")
        confirm = st.checkbox(t("admin.confirm_step"), key="admin-confirm-step")
        go = st.form_submit_button(t("admin.run_step"))
    if go and not confirm:
        st.error(t("admin.confirm_first"))
    elif go and step == "reset":
        ok, temporary = attempt(lambda: accounts.reset_password(viewer, username.strip()))
        if ok:
            st.warning(t("admin.reset_done", name=username.strip(), password=temporary))
    elif go:
        ok, _ = attempt(lambda: accounts.set_active(viewer, username.strip(), step == "enable") if step != "move"
                        else accounts.move_grids(viewer, username.strip(), other.strip(), codes(moving)))
        if ok:
            done(t("admin.step_done"))

with tabs[5]:
    st.dataframe(admin_log_table(accounts.log_entries(viewer), language=lang), hide_index=True, width="stretch")
