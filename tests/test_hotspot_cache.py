"""Hotspots off the request path (issue 21): the latest result per scope and period,
recomputed in the background when the data change, the previous one served meanwhile."""

from __future__ import annotations

import threading

import pytest

from dashboard.hotspot_cache import LatestResults


class Computation:
    """A computation that counts its runs and, once ``hold`` is cleared, waits to be let go."""

    def __init__(self) -> None:
        self.runs = 0
        self.go = threading.Event()
        self.go.set()

    def hold(self) -> None:
        self.go.clear()

    def __call__(self) -> str:
        self.runs += 1
        assert self.go.wait(30)
        return f"result {self.runs}"


def computed(store: LatestResults, key, epoch: int, work):
    """The first request of a key gets nothing yet; once computed, the result."""
    assert store.get(key, epoch, work) is None
    store.running[key].join()
    return store.get(key, epoch, work)


def test_a_data_change_serves_the_previous_result_until_the_new_one_is_computed_once():
    store, work = LatestResults(max_age_s=600), Computation()
    first = computed(store, "key", 0, work)
    assert (first.value, first.epoch, first.current) == ("result 1", 0, True)
    assert store.get("key", 0, work).value == "result 1" and work.runs == 1  # kept, not recomputed

    work.hold()  # the new computation cannot finish: a request must not wait for it
    for _ in range(3):
        served = store.get("key", 1, work)
        assert (served.value, served.epoch, served.current) == ("result 1", 0, False)
    work.go.set()
    store.running["key"].join()
    assert work.runs == 2  # once for the change, however many requests came meanwhile
    served = store.get("key", 1, work)
    assert (served.value, served.epoch, served.current) == ("result 2", 1, True)
    assert served.as_of >= first.as_of


def test_a_new_period_is_not_waited_for_and_each_key_has_its_own_result():
    store, work = LatestResults(max_age_s=600), Computation()
    assert computed(store, ("sup", "30 days"), 0, work).value == "result 1"
    work.hold()
    assert store.get(("sup", "a year"), 0, work) is None  # returns while the computation is held
    work.go.set()
    store.running[("sup", "a year")].join()
    other = store.get(("sup", "a year"), 0, work)
    assert (other.value, other.current) == ("result 2", True)
    assert store.get(("sup", "30 days"), 0, work).value == "result 1"


def test_a_result_older_than_its_age_is_recomputed_in_the_background():
    # A write from the CLI does not bump the server's epoch: age alone must refresh it too.
    store, work = LatestResults(max_age_s=0), Computation()
    computed(store, "key", 0, work)
    assert store.get("key", 0, work).value == "result 1"
    store.running["key"].join()
    assert work.runs == 2 and store.get("key", 0, work).value == "result 2"


def test_a_failed_first_computation_is_raised_and_a_later_one_keeps_the_previous_result():
    store = LatestResults(max_age_s=600)

    def broken():
        raise RuntimeError("database gone")

    assert store.get("key", 0, broken) is None
    store.running["key"].join()
    with pytest.raises(RuntimeError, match="database gone"):
        store.get("key", 0, broken)
    assert computed(store, "key", 0, lambda: "fine").value == "fine"
    served = store.get("key", 1, broken)
    store.running["key"].join()
    assert (served.value, served.current) == ("fine", False)
    served = store.get("key", 1, lambda: "fine again")  # tried again, the previous one meanwhile
    assert (served.value, served.current) == ("fine", False)
    store.running["key"].join()
    assert store.get("key", 1, broken).value == "fine again"
