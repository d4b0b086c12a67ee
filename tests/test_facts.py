"""The in-memory case facts give the figures the database counts, and follow its changes."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select, update

from governance.catalog import Category
from governance.db import session_factory, transaction
from governance.facts import CaseFacts, CaseFactsCache, read_in_subprocess
from governance.figures import closed_figures
from governance.filters import CaseFilter, case_conditions
from governance.loop_summary import grid_loop_summary
from governance.models import Case, Grid
from governance.testing import IN_G002
from governance.trends import category_day_counts
from governance.workflow import rate_case
from tests import test_queries
from tests.test_queries import NOW, _file, _walk

# The small district with a busy week of cases (tests.test_queries), as fixtures here.
world, busy = test_queries.world, test_queries.busy

FILTERS = [
    None,
    CaseFilter(start=NOW - timedelta(days=19, hours=12), end=NOW - timedelta(days=4)),
    CaseFilter(categories=("noise", "gas")),
    CaseFilter(states=("closed",), start=NOW - timedelta(days=30)),
    CaseFilter(categories=("fire_exit",)),  # nothing raised
]


def _g001(session) -> int:
    return session.scalar(select(Grid.id).where(Grid.code == "G001"))


def _same_figures(facts: CaseFacts, session, filters) -> None:
    counted = closed_figures(session, where=case_conditions(filters))
    kept = facts.closed_figures(filters)
    pd.testing.assert_frame_equal(kept.sort_index(), counted.sort_index(), check_dtype=False, check_names=False,
                                  check_index_type=False, rtol=1e-12)


@pytest.mark.parametrize("filters", FILTERS, ids=["none", "dates", "two-categories", "closed-since", "empty"])
def test_facts_give_the_figures_the_database_counts(busy, filters):
    engine, _, v = busy
    with transaction(engine) as session:
        facts = CaseFacts.read(session)
        _same_figures(facts, session, filters)
        for event in ("raised", "closed"):
            pd.testing.assert_frame_equal(
                facts.category_day_counts(filters, event=event).sort_values(["category", "day"]).reset_index(drop=True),
                category_day_counts(session, v["supervisor"], filters=filters, event=event)
                .sort_values(["category", "day"]).reset_index(drop=True),
                check_dtype=False,
            )
        g001 = facts.closed_figures(FILTERS[1]).loc[_g001(session)]
    # From day -19.5 to day -4: the closed cases of days -19 and -18 (on time), the reopened
    # one of day -15 (closed, not on time) and the overdue warning of day -10.
    assert (g001["total"], g001["closed"], g001["closed_on_time"], g001["reopen_count"]) == (4, 3, 2, 1)


def test_summary_under_a_date_range_is_the_same_from_facts_and_from_counting(busy):
    engine, _, v = busy
    filters = CaseFilter(start=NOW - timedelta(days=21), categories=("noise", "gas"))
    with transaction(engine) as session:
        facts = CaseFacts.read(session)
        counted = grid_loop_summary(session, v["supervisor"], now=NOW, filters=filters)
        from_facts = grid_loop_summary(session, v["supervisor"], now=NOW, filters=filters, facts=facts)
        # A grid leader's scope: the district's facts, only their grid shown.
        own = grid_loop_summary(session, v["leader1"], now=NOW, filters=filters, facts=facts)
    pd.testing.assert_frame_equal(from_facts, counted)
    assert own["code"].tolist() == ["G001"]
    assert own.iloc[0]["closed"] == counted.set_index("code").loc["G001", "closed"] == 5


def test_the_cache_follows_every_kind_of_change_and_rereads_nothing_otherwise(busy):
    engine, _, v = busy
    lead = v["leader1"]
    cache = CaseFactsCache(session_factory(engine))
    since = CaseFilter(start=NOW - timedelta(days=30))
    with transaction(engine) as session:
        request = _file(session, lead, at=NOW - timedelta(days=3), kind="service_request")
        _walk(session, lead, request, ["take_on", "resolve", "confirm"], start=NOW - timedelta(days=3))
        waiting = _file(session, lead, at=NOW - timedelta(days=2), category="gas")
    with transaction(engine) as session:
        first = cache.current(session)
        assert cache.current(session) is first  # nothing changed: the same copy
        g001 = _g001(session)
        before = first.closed_figures(since).loc[g001]
        everywhere = first.closed_figures(since)["total"].sum()
    # Each mark moves alone: a rating, a case moved on, a case raised.
    for change in (
        lambda session: rate_case(session, case_id=request.id, rating=4, now=NOW),
        lambda session: _walk(session, lead, waiting, ["take_on", "resolve", "confirm"], start=NOW - timedelta(days=2)),
        lambda session: _file(session, v["leader2"], at=NOW - timedelta(hours=3), point=IN_G002, category="gas"),
    ):
        with transaction(engine) as session:
            change(session)
        with transaction(engine) as session:
            updated = cache.current(session)
            assert updated is not first and updated.marks != first.marks
            _same_figures(updated, session, since)
            _same_figures(updated, session, CaseFilter(categories=(Category.GAS.value,)))
        first = updated
    after = updated.closed_figures(since).loc[g001]
    assert (after["total"], after["closed"], after["rating_count"]) == (
        before["total"], before["closed"] + 1, before["rating_count"] + 1)
    assert updated.closed_figures(since)["total"].sum() == everywhere + 1  # the case raised in G002


def test_on_postgresql_a_change_that_slipped_under_the_marks_is_read_within_max_age(busy):
    engine, _, v = busy
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite commits ids in order: nothing slips under a mark")
    cache = CaseFactsCache(session_factory(engine), max_age_s=0.0)
    with transaction(engine) as session:
        cache.current(session)
        cache.reread.join(60)  # the first copy is already older than max_age
        reopened = cache.current(session).closed_figures()["reopen_count"].sum()
        cache.reread.join(60)
    # As a transaction that committed its history row under a mark already read would look:
    # closed cases changed, no mark moved.
    with transaction(engine) as session:
        closed = session.execute(
            update(Case).where(Case.state == "closed").values(reopen_count=Case.reopen_count + 1)
        ).rowcount
    with transaction(engine) as session:
        # Not seen by the marks...
        assert cache.current(session).closed_figures()["reopen_count"].sum() == reopened
        cache.reread.join(60)
        # ...but by the next full read.
        _same_figures(cache.current(session), session, None)
        assert cache.current(session).closed_figures()["reopen_count"].sum() == reopened + closed > reopened
    cache.reread.join(60)  # max_age 0: each use started another; let it end before the schema goes


def test_a_copy_read_in_a_child_process_is_the_same_as_one_read_here(busy):
    engine, _, _ = busy
    url = engine.url.render_as_string(hide_password=False)
    with transaction(engine) as session:
        here = CaseFacts.read(session)
    there = read_in_subprocess(url)
    assert there.marks == here.marks
    pd.testing.assert_frame_equal(there.cases.sort_index(), here.cases.sort_index())
    with pytest.raises(RuntimeError, match="reading the case facts failed"):
        read_in_subprocess("not a database url")


def test_the_dashboards_cache_warms_in_the_background_and_the_first_use_waits_for_it(busy):
    engine, _, _ = busy
    reads = []

    def read_all():
        reads.append(1)
        with session_factory(engine)() as session:
            return CaseFacts.read(session)

    cache = CaseFactsCache(session_factory(engine), read_all=read_all)
    cache.warm()
    with transaction(engine) as session:
        facts = cache.current(session)  # waits for the warm-up instead of reading again
        _same_figures(facts, session, None)
    cache.warm()  # already read: nothing more
    assert reads == [1]


def test_when_the_background_read_fails_the_first_use_reads_here(busy):
    engine, _, _ = busy

    def broken():
        raise RuntimeError("reading the case facts failed: the child could not connect")

    cache = CaseFactsCache(session_factory(engine), read_all=broken)
    cache.warm()
    cache.reread.join(60)
    with transaction(engine) as session:
        _same_figures(cache.current(session), session, None)
