"""Hotspots computed off the request path, once per data change.

Gi* with 999 conditional permutations over a city's 10,000 grids takes
seconds of CPU; a page that computed it in the first request after every
change would miss its targets whenever anybody had just written.  So a
request is served the last hotspots computed for its scope and period,
with the time their computation started, while a background thread
computes those of the current data; the next rerun shows them.  Only the
very first computation for a scope and period, with nothing earlier to
show, is waited for.

The result is current while the data epoch is the one it was computed for
and it is younger than the dashboard's cache time-to-live (a write from the
CLI or another server process does not bump this process's epoch).
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

    def get(self, key: Hashable, epoch: int, compute: Callable[[], Any]) -> Served:
        """The result for ``key``: current if there is one, else the previous one marked
        not current while ``compute`` runs in the background; the first one is waited for."""
        with self._lock:
            done = self._done.get(key)
            if done is not None:
                self._done.move_to_end(key)
                if done.epoch == epoch and (clock() - done.as_of).total_seconds() < self._max_age_s:
                    return done
            thread = self._start(key, epoch, compute)
        if done is not None:
            return replace(done, current=False)
        thread.join()
        with self._lock:
            done = self._done.get(key)
            if done is None:
                raise self._failed.pop(key)
        return replace(done, current=done.epoch == epoch)

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
        except Exception as exc:  # kept for a first request waiting on it; else said and retried next time
            print(f"linpu: computing hotspots failed: {exc}; the next request tries again", file=sys.stderr)
            with self._lock:
                self._failed[key] = exc
            return
        with self._lock:
            self._done[key] = Served(value, epoch, started)
            self._done.move_to_end(key)
            while len(self._done) > self._max_keys:
                self._done.popitem(last=False)


def hotspots_of(viewer, viewer_key: tuple, period: CaseFilter, data_epoch: int, grids: gpd.GeoDataFrame,
                *, max_age_s: float) -> dict:
    """The hotspots of the period's cases in the viewer's grids, as the page shows them,
    with ``as_of`` (local text) and ``current`` (False: newer ones are being computed)."""

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

    served = _results(max_age_s).get((viewer_key, period), data_epoch, compute)
    return {**served.value, "as_of": served.as_of.astimezone(district_zone()).strftime("%Y-%m-%d %H:%M"), "current": served.current}


@st.cache_resource(show_spinner=False)
def _results(max_age_s: float) -> LatestResults:
    """One store per server process, kept for its life."""
    return LatestResults(max_age_s=max_age_s)


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
