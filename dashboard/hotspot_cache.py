"""Hotspots computed off the request path, once per data change.

Gi* with 999 conditional permutations over a city's 10,000 grids takes
seconds of CPU; a page that computed it in its request after every change
or filter change would miss its targets.  So the computation always runs in
a background thread: a request gets the last hotspots computed for its
scope and period, marked not current with the time their computation
started when the data have changed since, or none yet for a period never
computed; the page says so and shows the new ones at its next rerun.

A result also ages out after ``MAX_AGE_S``, the dashboard's cache
time-to-live (a write from the CLI or another server process does not bump
this process's epoch): it is then recomputed in the background and still
served as current meanwhile, since nothing says the data changed.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import streamlit as st

from dashboard.context import engine
from geo.hotspots import contiguity
from governance.clock import clock, district_zone
from governance.db import session_factory
from governance.filters import CaseFilter
from governance.hotspots import case_hotspots

MAX_AGE_S = 60


@dataclass(frozen=True)
class Served:
    """A computed value, the data epoch and instant (UTC) it was computed for, and whether
    it is still current for the epoch asked about."""

    value: Any
    epoch: int
    as_of: datetime
    current: bool = True


class LatestResults:
    """The latest result per key, recomputed in a background thread when the epoch moves
    on or it ages past ``max_age_s``; thread-safe, at most ``max_keys`` kept."""

    def __init__(self, *, max_age_s: float, max_keys: int = 32) -> None:
        self._max_age_s = max_age_s
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._done: OrderedDict[Hashable, Served] = OrderedDict()
        self._failed: dict[Hashable, Exception] = {}
        #: The background computation per key, while it runs (and after, until the next).
        self.running: dict[Hashable, threading.Thread] = {}

    def get(self, key: Hashable, epoch: int, compute: Callable[[], Any]) -> Served | None:
        """The result for ``key``: current if computed for ``epoch``; else the previous one
        marked not current, or None if there is none, while ``compute`` runs in the
        background.  A failed computation with nothing earlier to show is raised (once)."""
        with self._lock:
            done = self._done.get(key)
            if done is not None:
                self._done.move_to_end(key)
            same_epoch = done is not None and done.epoch == epoch
            if same_epoch and (clock() - done.as_of).total_seconds() < self._max_age_s:
                return done
            failed = self._failed.pop(key, None)
            if failed is not None and done is None:
                raise failed
            self._start(key, epoch, compute)
        if done is None:
            return None
        return done if same_epoch else replace(done, current=False)

    def _start(self, key: Hashable, epoch: int, compute: Callable[[], Any]) -> threading.Thread:  # under the lock
        thread = self.running.get(key)
        if thread is None or not thread.is_alive():
            thread = threading.Thread(target=self._compute, args=(key, epoch, compute), daemon=True,
                                      name="linpu-hotspots")
            self.running[key] = thread
            thread.start()
        return thread

    def _compute(self, key: Hashable, epoch: int, compute: Callable[[], Any]) -> None:
        started = clock()
        try:
            value = compute()
        except Exception as exc:  # said, kept for the next request, which tries again
            print(f"linpu: computing hotspots failed: {exc}; the next request tries again", file=sys.stderr)
            with self._lock:
                self._failed[key] = exc
            return
        with self._lock:
            self._done[key] = Served(value, epoch, started)
            self._done.move_to_end(key)
            while len(self._done) > self._max_keys:
                self._done.popitem(last=False)


def hotspots_of(viewer, viewer_key: tuple, period: CaseFilter, data_epoch: int, grids: gpd.GeoDataFrame) -> dict:
    """The hotspots of the period's cases in the viewer's grids, as the page shows them,
    with ``as_of`` (local text) and ``current`` (False: newer ones are being computed);
    ``pending`` True, and no grids, while the period's first computation runs."""

    factory = session_factory(engine())  # looked up here: the work runs outside Streamlit's context
    weights_key = _grids_key(grids)

    def compute() -> dict:
        with factory() as session:
            report = case_hotspots(session, viewer, filters=period, grids=grids,
                                   weights=_weights(grids, weights_key))
        hot = report.grids["gi_class"].astype(str)
        return {
            "grids": pd.DataFrame(report.grids.drop(columns="geometry")),
            "total": report.total_cases, "too_few": report.too_few_cases, "hot": report.n_hot,
            "hot99": int((hot == "hot_99").sum()), "min_cases": report.min_cases, "min_total": report.min_total,
        }

    served = _results().get((viewer_key, period), data_epoch, compute)
    if served is None:
        return {"grids": pd.DataFrame(), "pending": True, "current": False, "as_of": None}
    as_of = served.as_of.astimezone(district_zone()).strftime("%Y-%m-%d %H:%M")
    return {**served.value, "pending": False, "as_of": as_of, "current": served.current}


def settle() -> None:
    """Wait for the hotspots being computed (for tests and benchmarks)."""
    for thread in list(_results().running.values()):
        thread.join()


@st.cache_resource(show_spinner=False)
def _results() -> LatestResults:
    """One store per server process, kept for its life."""
    return LatestResults(max_age_s=MAX_AGE_S)


def _grids_key(grids: gpd.GeoDataFrame) -> tuple:
    """What identifies a set of grids cheaply: their codes and outlines' bounds."""
    return (len(grids), hash(tuple(grids["code"])), tuple(float(b) for b in grids.total_bounds))


_WEIGHTS: OrderedDict[tuple, Any] = OrderedDict()
_WEIGHTS_LOCK = threading.Lock()


def _weights(grids: gpd.GeoDataFrame, key: tuple):
    """The Gi* neighbour weights of these grids: they change with the grids, not the filters
    (kept here, not in Streamlit's cache, since the background threads have no script context)."""
    with _WEIGHTS_LOCK:
        if key in _WEIGHTS:
            return _WEIGHTS[key]
    weights = contiguity(grids)
    with _WEIGHTS_LOCK:
        _WEIGHTS[key] = weights
        while len(_WEIGHTS) > 8:
            _WEIGHTS.popitem(last=False)
    return weights
