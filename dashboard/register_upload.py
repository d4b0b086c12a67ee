"""The shop-register upload: validate first, add and update by default, close shops only when confirmed.

Anyone on the analyst page validates and previews; only the admin (the office
clerk) applies a register.  Closing the shops a file leaves out is off by
default and, when switched on, needs a second, explicit confirmation naming
how many shops will close.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.i18n import translate
from dashboard.widgets import done
from governance.catalog import Role
from governance.errors import LinpuError

#: The counts of a register run, in the order they are said.
COUNTS = ("opened", "reopened", "updated", "closed", "unchanged", "without_grid")


def counts_text(counts: dict[str, int], lang: str) -> str:
    """The counts of a register run in words of the page's language."""
    return translate("an.counts", lang, **{k: counts.get(k, 0) for k in COUNTS})


def _run(viewer, upload, lang: str, **options):
    """Validate or apply the uploaded register; None (the error shown) when the domain refuses it."""
    try:
        return data.ingest_register(viewer, upload.getvalue(), upload.name, **options)
    except LinpuError as exc:
        st.error(translate("error.generic", lang, reason=str(exc)))
        return None


def upload_section(viewer, lang: str) -> None:
    """Validate an uploaded register; let the admin apply it, confirming any closing first."""
    t = lambda k, **kw: translate(k, lang, **kw)  # noqa: E731
    upload = st.file_uploader(t("an.upload_file"), type=["csv", "xlsx", "geojson", "json", "gpkg", "zip"],
                              key="an-upload")
    c1, c2 = st.columns(2)
    coords = c1.selectbox(t("an.coords"), ["wgs84", "gcj02", "bd09"], key="an-upload-coords",
                          format_func=lambda c: t("an.gcj02") if c == "gcj02" else c.upper())
    close_missing = c2.toggle(t("an.close_missing"), value=False, key="an-upload-close")
    if upload is None:
        return
    stamp = f"{upload.name}:{upload.size}:{coords}:{close_missing}"
    if st.button(t("an.validate"), key="an-validate"):
        st.session_state["an-validated"] = stamp
    if st.session_state.get("an-validated") != stamp:
        return
    report = _run(viewer, upload, lang, coords=coords, close_missing=close_missing, dry_run=True)
    if report is None:
        return
    if report.problems:
        st.error(t("an.invalid", n=len(report.problems)))
        st.dataframe(
            data.problems_frame(report).rename(columns={"row": t("col.row"), "field": t("col.field"),
                                                        "message": t("col.message")}),
            hide_index=True, width="stretch",
        )
        return
    closing = report.counts.get("closed", 0)
    (st.warning if closing else st.success)(t("an.valid", n=report.accepted_rows) + " "
                                            + counts_text(report.counts, lang))
    for note in report.notes:
        st.caption(note)
    if viewer.role is not Role.ADMIN:
        st.info(t("an.admin_applies"))
        return
    confirmed = not closing or st.checkbox(t("an.confirm_close", n=closing), value=False, key="an-confirm-close")
    if st.button(t("an.write"), type="primary", key="an-write", disabled=not confirmed):
        written = _run(viewer, upload, lang, coords=coords, close_missing=close_missing, dry_run=False)
        if written is None:
            return
        st.session_state.pop("an-validated", None)
        done(t("an.written", n=written.accepted_rows) + " " + counts_text(written.counts, lang))
