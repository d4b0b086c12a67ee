"""One status colour scheme for every page, map and legend."""

from __future__ import annotations

from governance.catalog import CaseState

STATE_COLOURS: dict[str, str] = {
    CaseState.WARNING: "#d7301f",  # red
    CaseState.IN_PROGRESS: "#f39c12",  # amber
    CaseState.FOLLOW_UP: "#2c7fb8",  # blue
    CaseState.CLOSED: "#31a354",  # green
}
OVERDUE_OUTLINE = "#4a0000"
BOUNDARY_COLOUR = "#333333"
MAP_BACKGROUND = "#f2efe9"
STREET_STYLE: dict[str, tuple[str, float]] = {
    # class: (colour, weight in px) so main roads read as main roads with no basemap
    "main": ("#8c8c8c", 7.0),
    "street": ("#a6a6a6", 4.0),
    "lane": ("#bdbdbd", 2.0),
}
SHOP_COLOUR = "#3b3b3b"
