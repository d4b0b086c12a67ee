"""Leaflet served by the app itself: no CDN, so the map draws offline.

Streamlit serves ``static/`` beside the entry script at ``/app/static/``
(``server.enableStaticServing``).  Leaflet comes from the XStatic-Leaflet
package and is copied there at start-up, so the checkout carries no vendored
copy and an upgrade of the package is picked up.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import xstatic.pkg.leaflet as xstatic_leaflet

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
LEAFLET_DIR = STATIC_DIR / "leaflet"
URL_PREFIX = "app/static"


def ensure_leaflet() -> Path:
    """Copy Leaflet's js, css and images under static/ unless the same version is there."""
    source = Path(xstatic_leaflet.BASE_DIR)
    stamp = LEAFLET_DIR / "VERSION"
    if stamp.exists() and stamp.read_text() == xstatic_leaflet.VERSION:
        return LEAFLET_DIR
    staging = STATIC_DIR / ".leaflet-staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("leaflet.js", "leaflet.css"):
        shutil.copy2(source / name, staging / name)
    shutil.copytree(source / "images", staging / "images")
    (staging / "VERSION").write_text(xstatic_leaflet.VERSION)
    # Swap in whole so a concurrent page load never sees half a copy.
    shutil.rmtree(LEAFLET_DIR, ignore_errors=True)
    staging.rename(LEAFLET_DIR)
    return LEAFLET_DIR


def leaflet_urls(base_url_path: str = "") -> tuple[str, str]:
    """Absolute URLs of leaflet.js and leaflet.css as the browser sees them."""
    base = "/" + "/".join(p for p in (base_url_path.strip("/"), URL_PREFIX, "leaflet") if p)
    return f"{base}/leaflet.js", f"{base}/leaflet.css"

