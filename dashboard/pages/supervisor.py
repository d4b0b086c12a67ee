"""Supervisor: the whole district on pydeck, ranking, trends, grid detail and dispatch."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import data
from dashboard.auth import cookie_in_browser, require
from dashboard.context import language
from dashboard.deck import POLYGON_LIMIT, deck_background_css, deck_legend_html, picked_grid
from dashboard.frames import known_codes, picker_options, ranking, rollup_table, shop_table
from dashboard.i18n import translate
from dashboard.widgets import case_panel, flash
from governance.catalog import STATE_SEVERITY_ORDER, Category, OccupationCheck
from governance.filters import CaseFilter

MIN_CASES_TO_RANK = 5

viewer = require("supervisor")
lang = language()
t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731

st.title(t("sup.title"))
flash()
all_codes = data.grid_codes(viewer, data.viewer_key(viewer), data.epoch())
# At city scale the grid pickers offer a few codes and take typed ones (see frames.picker_options).
filter_options, type_codes = picker_options(all_codes, chosen=st.session_state.get("sup-grids") or ())

with st.container(border=True):
    c1, c2, c3, c4 = st.columns([3, 3, 3, 3])
    # Default: all time, which the loop summary answers from its stored figures; a date range
    # makes it count the matching cases (an index range, see governance.queries).
    dates = c1.date_input(t("sup.date_range"), value=(), key="sup-dates")
    categories = c2.multiselect(t("sup.categories"), [c.value for c in Category], key="sup-categories", placeholder=t("sup.all"),
                                format_func=lambda c: t(f"category.{c}"))
    states = c3.multiselect(t("sup.states"), [s.value for s in STATE_SEVERITY_ORDER], key="sup-states", placeholder=t("sup.all"),
                            format_func=lambda s: t(f"state.{s}"))
    grid_codes = c4.multiselect(t("sup.grids"), filter_options, key="sup-grids",
                                placeholder=t("sup.type_grids") if type_codes else t("sup.all"),
                                accept_new_options=type_codes)
    grid_codes, unknown = known_codes(grid_codes, all_codes)
    if unknown:
        c4.warning(t("sup.unknown_grids", codes=", ".join(unknown)))
    o1, _ = st.columns([3, 9])
    # Road-occupation findings by where they stood against the stall zones when filed.
    occupation = o1.multiselect(t("sup.occupation"), [o.value for o in OccupationCheck], key="sup-occupation",
                                placeholder=t("sup.all"), format_func=lambda o: t(f"occupation.{o}"))
    l1, l2, l3 = st.columns(3)
    # At city scale the map opens on grid status and hotspots, one point per grid coloured
    # by its worst open state; case points (at most CASE_POINT_LIMIT, overdue first) and the
    # warning hexagons are one switch away (each layer kind is another shader program for
    # the browser to compile before the first frame: half a second on software WebGL).
    city_scale = len(all_codes) > POLYGON_LIMIT
    show_cases = l1.toggle(t("sup.layer_cases"), value=not city_scale, key="sup-layer-cases")
    show_heat = l2.toggle(t("sup.layer_heat"), value=not city_scale, key="sup-layer-heat")
    show_hot = l3.toggle(t("sup.layer_hotspots"), value=True, key="sup-layer-hotspots")

start, end = (tuple(dates) + (None, None))[:2] if isinstance(dates, tuple | list) else (dates, None)
filters = CaseFilter.for_days(start, end, categories=tuple(categories), states=tuple(states),
                       grid_codes=tuple(grid_codes), occupation=tuple(occupation))
bundle = data.supervisor_view(viewer, data.viewer_key(viewer), filters, data.epoch(), MIN_CASES_TO_RANK,
                              with_cases=show_cases)
summary, cases = bundle["summary"], bundle["cases"]

if show_cases and len(cases) and int(summary["open"].sum()) > len(cases):
    st.caption(t("sup.case_points_note", shown=len(cases), total=int(summary["open"].sum())))
closed = summary["closed"].sum()
on_time = (summary["on_time_rate"] * summary["closed"]).sum() / closed if closed else float("nan")
st.caption(t("sup.kpis", open=int(summary["open"].sum()), overdue=int(summary["overdue"].sum()),
             warning=int(summary["warning"].sum()), on_time="—" if closed == 0 else f"{on_time:.0%}"))

calendar = data.calendar_notice(data.epoch())
(st.warning if calendar["soon"] else st.caption)(t("sup.calendar", year=calendar["last_year"], date=calendar["from"]))

selected = st.session_state.get("sup-grid")
map_col, side_col = st.columns([3, 2], gap="medium")
with map_col:
    st.html(deck_background_css())
    hot = data.hotspot_view(viewer, data.viewer_key(viewer), filters.period(), data.epoch())
    event = st.pydeck_chart(
        data.supervisor_map(viewer, data.viewer_key(viewer), filters, data.epoch(), MIN_CASES_TO_RANK,
                            with_cases=show_cases, show_heat=show_heat, show_hotspots=show_hot,
                            selected_code=selected, language=lang, hotspots_as_of=hot["as_of"],
                            _hotspots=hot["grids"], layers_by_url=cookie_in_browser()),
        height=560, on_select="rerun", selection_mode="single-object", key="sup-map",
    )
    st.html(deck_legend_html(lang))
    if hot["pending"]:
        st.caption(t("sup.hotspot_pending"))
    elif not hot["current"]:
        st.caption(t("sup.hotspot_as_of", time=hot["as_of"]))
    if not hot["pending"]:
        if hot["too_few"]:
            st.caption(t("sup.hotspot_too_few", total=hot["total"], min_total=hot["min_total"]))
        st.caption(t("sup.hotspot_note", hot=hot["hot"], hot99=hot["hot99"], total=hot["total"],
                     min_cases=hot["min_cases"], min_total=hot["min_total"]))
with side_col:
    # Ranking and trends share the column as tabs that rerun on a switch: only the open one is
    # drawn, so a page load does not ship and draw a chart nobody has looked at yet.
    rank_tab, trend_tab = st.tabs([t("sup.ranking"), t("sup.trends")], key="sup-side", on_change="rerun")
    if rank_tab.open is not False:
        with rank_tab:
            table, unranked = ranking(summary, language=lang)
            st.caption(t("sup.ranking_note", n=MIN_CASES_TO_RANK) + " " + t("sup.unranked", n=unranked))
            # A city's table is loaded lazily: the browser gets the rows in view, not 10,000.
            st.dataframe(table, hide_index=True, width="stretch", height=470,
                         lazy=True if len(table) > 1000 else None)
    if trend_tab.open:
        with trend_tab:
            # Read only while this tab is open.
            series = data.supervisor_series(viewer, data.viewer_key(viewer), filters, data.epoch())
            if series.empty:
                st.info(t("sup.no_cases"))
            else:
                chart_data = series.assign(category=series["category"].astype(str).map(lambda c: t(f"category.{c}")))
                st.altair_chart(
                    alt.Chart(chart_data).mark_bar().encode(
                        x=alt.X("period:T", title=t("col.period")),
                        y=alt.Y("sum(raised):Q", title=t("col.raised")),
                        color=alt.Color("category:N", title=t("col.category"), legend=alt.Legend(orient="bottom", columns=2)),
                        tooltip=[alt.Tooltip("period:T", title=t("col.period")),
                                 alt.Tooltip("category:N", title=t("col.category")),
                                 alt.Tooltip("raised:Q", title=t("col.raised")),
                                 alt.Tooltip("closed:Q", title=t("col.closed"))],
                    ).properties(height=380),
                    width="stretch",
                )

# A grid clicked on the map becomes the chosen grid (the selectbox follows it).
picked_code = picked_grid(event.selection.objects) if event else None
if picked_code in set(all_codes) and picked_code != st.session_state.get("sup-map-last"):
    st.session_state["sup-map-last"] = picked_code
    st.session_state["sup-grid"] = picked_code
    st.rerun()

rollup = data.rollup_view(viewer, data.viewer_key(viewer), filters, data.epoch(), MIN_CASES_TO_RANK)
if len(rollup):
    with st.expander(t("sup.rollup")):
        st.caption(t("sup.rollup_note"))
        st.dataframe(rollup_table(rollup, language=lang), hide_index=True, width="stretch")

if viewer.is_district_wide:
    evaluation = data.department_evaluation(viewer, data.viewer_key(viewer), data.epoch(), MIN_CASES_TO_RANK)
    if len(evaluation):
        with st.expander(t("sup.departments")):
            st.caption(t("sup.departments_note", n=MIN_CASES_TO_RANK))
            st.dataframe(evaluation, hide_index=True, width="stretch")

st.subheader(t("sup.detail"))
worst = summary.sort_values(["open_per_10_shops", "overdue", "code"], ascending=[False, False, True])["code"]
detail_options, type_code = picker_options(all_codes, chosen=[st.session_state.get("sup-grid")],
                                           suggested=worst.head(100).tolist())
if type_code:
    st.caption(t("sup.pick_grid_note", n=len(all_codes)))
code = st.selectbox(t("sup.pick_grid"), detail_options, index=None, key="sup-grid",
                    placeholder=t("sup.type_grid") if type_code else None, accept_new_options=type_code)
code, unknown = known_codes(code, all_codes)
if unknown:
    st.warning(t("sup.unknown_grids", codes=", ".join(unknown)))
code = code[0] if code else None
if code:
    detail = data.grid_detail(viewer, code, filters)
    team_col, shop_col = st.columns([2, 3])
    with team_col:
        st.markdown(f"**{t('sup.team')}**")
        team = detail["team"].copy()
        if "role" in team:
            team["role"] = team["role"].astype(str).map(lambda r: t(f"member.{r}"))
        st.dataframe(team.rename(columns={c: t(f"col.{c}") for c in team.columns}),
                     hide_index=True, width="stretch")
    with shop_col:
        st.markdown(f"**{t('sup.shops')}**")
        st.dataframe(shop_table(detail["shops"], language=lang), hide_index=True, width="stretch")
    st.markdown(f"**{t('sup.cases')}**")
    grid_cases = detail["cases"]
    if grid_cases.empty:
        st.info(t("sup.no_cases"))
    else:
        case_panel(viewer, grid_cases, lang, key="sup", supervisor=True)

# Early warnings are read on request only: at city scale they are many and slow to gather.
if st.toggle(t("sup.warnings_early"), value=False, key="sup-early"):
    warnings = data.early_warnings(viewer, data.viewer_key(viewer), data.epoch())
    st.caption(f"{len(warnings)}")
    st.dataframe(warnings.head(5000), hide_index=True, width="stretch")

# Last, once the page is drawn: the first filter change then finds the case facts read.
data.warm_case_facts()
