"""The map layers the filters never change, served as files the browser keeps.

The supervisor's deck draws the district's stored map (``deck.STATIC_LAYERS``:
boundary, streets, stall zones, service points) under every filter.  Shipped
inside the deck, their rows (thousands of street segments from an OSM extract)
would travel with every rerun; instead the deck names a URL for each,
``/linpu/layers/<name>.json?v=<version>``, and deck.gl loads it with a
same-origin ``fetch``, which carries the sign-in cookie.

The version is the first 64 bits of the SHA-256 of the file's bytes, so it
changes exactly when what is served changes (a layer replaced, a street
reclassified), whichever process wrote the features, and a versioned URL can
be kept by the browser for a year (``immutable``).  A URL whose version is no
longer current (a page built before the change) still gets the current rows,
to be revalidated rather than kept.  The rows are ``deck.static_layer_rows``,
the same the deck embeds for a caller without a server.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dashboard.context import engine
from dashboard.deck import STATIC_LAYERS, features_of_kind, static_layer_rows
from governance.db import session_factory
from governance.queries import district_features

LAYER_PATH = "/linpu/layers/{name}.json"
#: A versioned URL names one content for ever: the browser keeps it without asking again.
KEPT = "private, max-age=31536000, immutable"
#: Unversioned or stale: the browser may keep it but asks (If-None-Match) before using it.
REVALIDATED = "private, no-cache"


@dataclass(frozen=True)
class LayerFile:
    """One static layer as served: its JSON ``body`` and the ``version`` naming it."""

    body: bytes
    version: str


def layer_file(name: str, features: gpd.GeoDataFrame) -> LayerFile:
    """Static layer ``name`` (a key of ``deck.STATIC_LAYERS``) from ``district_features`` rows.

    ``features`` may hold every kind; the layer's own are picked here.
    """
    rows = static_layer_rows(name, features_of_kind(features, STATIC_LAYERS[name]))
    body = json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()
    return LayerFile(body, hashlib.sha256(body).hexdigest()[:16])


def layer_url(name: str, version: str, *, base: str = "") -> str:
    """The address of one version of a static layer, under the app's ``base`` path."""
    return base + LAYER_PATH.format(name=name) + f"?v={version}"


def layer_urls(features: gpd.GeoDataFrame, *, base: str = "") -> dict[str, str]:
    """``{name: url}`` for every static layer the district has features of (``deck.district_deck``'s ``layer_urls``)."""
    return {name: layer_url(name, layer_file(name, features).version, base=base)
            for name, kind in STATIC_LAYERS.items() if len(features_of_kind(features, kind))}


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` header takes gzip (``gzip;q=0`` refuses it)."""
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


def _stored_file(name: str) -> LayerFile:
    with session_factory(engine())() as session:
        return layer_file(name, district_features(session, kinds=(STATIC_LAYERS[name],)))


def layer_response(request: Request, file: LayerFile) -> Response:
    """``file`` for ``request``: kept for a year when the URL names its version, else
    revalidated; 304 when the browser's copy is current, gzip when it is accepted."""
    etag = f'W/"{file.version}"'
    headers = {
        "Cache-Control": KEPT if request.query_params.get("v") == file.version else REVALIDATED,
        "ETag": etag,
        "Vary": "Accept-Encoding",
    }
    held = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
    if etag in held or etag.removeprefix("W/") in held:
        return Response(status_code=304, headers=headers)
    body = file.body
    # Compressed here, not by a middleware: the route answers alike wherever it is mounted,
    # and the app's gzip middleware passes a response that already names its encoding.
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        body = gzip.compress(body, compresslevel=6, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


def layer_route(*, signed_in: Callable[[Request], bool]) -> Route:
    """``GET /linpu/layers/<name>.json``, answered only to a request ``signed_in`` accepts (else 401).

    ``signed_in`` is the app's sign-in check (``dashboard.routes``), passed in so
    this module needs nothing of the module that assembles the routes.
    """

    def serve(request: Request) -> Response:
        if not signed_in(request):
            return Response("not signed in: sign in to the dashboard, then load the map again",
                            status_code=401, headers={"Cache-Control": "no-store"})
        name = request.path_params["name"]
        if name not in STATIC_LAYERS:
            return Response(f"no map layer {name!r}: the layers are {', '.join(STATIC_LAYERS)}",
                            status_code=404, headers={"Cache-Control": "no-store"})
        return layer_response(request, _stored_file(name))

    return Route(LAYER_PATH, serve, methods=["GET"], name="static-layer")

