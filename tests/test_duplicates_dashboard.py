"""No duplicate cases on the pages: filing shows the open case nearby first and adds the finding to it;
a supervisor merges two cases from the grid's case panel (AppTest, on a copy of the demo)."""

from __future__ import annotations

from sqlalchemy import select

from governance.db import make_engine, session_factory
from governance.models import Case, CaseHistory, Grid, Shop
from tests.test_dashboard import app, no_exceptions, use_database, writable_demo  # noqa: F401 (fixtures)


def _file(at, shop_code: str, category: str, title: str):
    """File a patrol finding at a shop through the leader's form; returns (case_id, case_no)."""
    at.selectbox(key="report-shop").set_value(shop_code).run()
    at.selectbox(key="report-category-patrol").set_value(category).run()
    at.text_input(key="report-title").input(title)
    next(b for b in at.button if b.label == "Submit").click().run()
    no_exceptions(at)
    return at


def _case(engine, title: str) -> tuple[int, str]:
    with session_factory(engine)() as session:
        return tuple(session.execute(select(Case.id, Case.case_no).where(Case.title == title)).one())


def _shop_of(engine, grid_code: str) -> str:
    with session_factory(engine)() as session:
        return session.scalar(select(Shop.shop_code).join(Grid, Grid.id == Shop.grid_id)
                              .where(Grid.code == grid_code).order_by(Shop.shop_code))


def _history(engine, case_id: int) -> list[tuple[str, str]]:
    with session_factory(engine)() as session:
        return [(r.action, r.note) for r in session.scalars(
            select(CaseHistory).where(CaseHistory.case_id == case_id).order_by(CaseHistory.seq))]


def _count(engine) -> int:
    with session_factory(engine)() as session:
        return len(session.scalars(select(Case.id)).all())


def test_filing_at_a_shop_with_an_open_case_offers_it_and_adds_the_finding(use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    engine = make_engine(writable_demo)
    shop_code = _shop_of(engine, "G001")
    at = _file(app("leader01", lang="en"), shop_code, "fire_exit", "exit blocked by boxes")
    case_id, case_no = _case(engine, "exit blocked by boxes")
    before = _count(engine)
    # The same shop and category again: the open case is shown first, chosen in the form.
    at.selectbox(key="report-shop").set_value(shop_code).run()
    at.selectbox(key="report-category-patrol").set_value("fire_exit").run()
    offer = [w.value for w in at.warning if case_no in w.value]
    assert offer and "nearby" in offer[0] and "0 m" in offer[0]
    assert at.selectbox(key="dup-case").value == case_id
    # Nothing said, no photo: refused, nothing written.
    next(b for b in at.button if b.label == "Add to this case").click().run()
    assert any("Say what you found" in e.value for e in at.error)
    at.text_area(key="dup-note").input("blocked again this morning")
    next(b for b in at.button if b.label == "Add to this case").click().run()
    no_exceptions(at)
    assert any(f"Added to case {case_no}" in s.value for s in at.success)
    assert _history(engine, case_id)[-1] == ("add_finding", "blocked again this morning")
    assert _count(engine) == before  # no second case
    # Another category at the same shop is no duplicate: no offer.
    at.selectbox(key="report-category-patrol").set_value("noise").run()
    assert not any(case_no in w.value for w in at.warning)
    engine.dispose()


def test_supervisor_merges_two_cases_the_later_closed_as_duplicate_of_the_first(use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    engine = make_engine(writable_demo)
    shop_code = _shop_of(engine, "G001")
    at = _file(app("leader01", lang="en"), shop_code, "gas", "gas smell at the back door")
    _file(at, shop_code, "gas", "smell of gas again")  # filed anyway: the offer is not a block
    first_id, first_no = _case(engine, "gas smell at the back door")
    later_id, later_no = _case(engine, "smell of gas again")

    sup = app("supervisor1", lang="en")
    sup.multiselect(key="sup-states").set_value(["warning"]).run()
    sup.selectbox(key="sup-grid").select("G001").run()
    # Picked from the first case: the page still closes the later one.
    sup.selectbox(key="sup-case").select(first_no).run()
    no_exceptions(sup)
    sup.selectbox(key="sup-merge-other").set_value(later_id)
    sup.text_area(key="sup-merge-note").input("same shop, same problem")
    next(b for b in sup.button if b.label.startswith("Merge")).click().run()
    no_exceptions(sup)
    assert any(f"{later_no} closed as a duplicate of {first_no}" in s.value for s in sup.success)
    with session_factory(engine)() as session:
        later = session.get(Case, later_id)
        assert (str(later.state), str(later.outcome)) == ("closed", "duplicate")
        assert str(session.get(Case, first_id).state) == "warning"
    assert _history(engine, later_id)[-1] == ("merge", "same shop, same problem")
    assert _history(engine, first_id)[-1] == ("merged_in", "same shop, same problem")
    engine.dispose()
