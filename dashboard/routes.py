"""The app's own HTTP routes, beside Streamlit's (see ``streamlit_app.py``).

What a Streamlit page cannot do is done here, once: set and clear the
sign-in cookie.  The cookie holds only the random token of a sign-in
(:mod:`governance.login`); it is HttpOnly, SameSite=Strict, and Secure when
the request came over HTTPS, directly or through a proxy named in
``LINPU_TRUSTED_PROXIES``.  The map layers the filters never change are files
for signed-in staff (:mod:`dashboard.layer_routes`, checked by
:func:`signed_in_request`); the public pages' routes are :mod:`dashboard.public_pages`.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dashboard.context import engine
from dashboard.layer_routes import layer_route
from dashboard.public_pages import PUBLIC_ROUTES
from governance.db import session_factory
from governance.errors import LinpuError
from governance.login import check_token, end_token
from governance.settings import get_settings

COOKIE_NAME = "linpu_session"
SESSION_PATH = "/linpu/session"
SIGN_OUT_PATH = "/linpu/sign-out"
TOKEN_HEADER = "x-linpu-token"
#: The server ends an idle sign-in long before; the cookie only has to outlive a closed browser.
COOKIE_DAYS = 30


def _session():
    return session_factory(engine())()


def live_token(token: str | None) -> bool:
    """Whether ``token`` is a live sign-in; the check counts as its activity, as a page run does."""
    minutes = get_settings().session_timeout_minutes
    with _session() as session:
        try:
            check_token(token, timeout=timedelta(minutes=minutes), session=session)
        except LinpuError:
            return False
        finally:
            # An expiry is stored too, so the token stays ended.
            session.commit()
    return True


def came_over_https(request: Request) -> bool:
    """HTTPS to us, or to a trusted proxy that says so in X-Forwarded-Proto."""
    if request.url.scheme == "https":
        return True
    client = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" and client in get_settings().trusted_proxy_addresses


def _same_origin(request: Request) -> bool:
    """A browser's POST names its page's origin; another site's page may not set our cookie."""
    origin = request.headers.get("origin")
    return bool(origin) and urlsplit(origin).netloc == request.headers.get("host")


def adopt_session(request: Request) -> Response:
    """POST with the token in X-Linpu-Token: the page that just signed in makes it the cookie.

    A custom header cannot be sent cross-site without a CORS preflight we never grant.
    """
    if not _same_origin(request):
        return Response("cross-origin request refused", status_code=403)
    token = request.headers.get(TOKEN_HEADER, "")
    if not live_token(token):
        return Response("not signed in", status_code=401)
    response = Response(status_code=204)
    response.set_cookie(COOKIE_NAME, token, max_age=COOKIE_DAYS * 86400, path="/", httponly=True,
                        samesite="strict", secure=came_over_https(request))
    return response


def signed_in_request(request: Request) -> bool:
    """The request carries the cookie of a live sign-in."""
    return live_token(request.cookies.get(COOKIE_NAME))


def sign_out(request: Request) -> Response:
    """POST: end the cookie's sign-in on the server and clear the cookie."""
    if not _same_origin(request):
        return Response("cross-origin request refused", status_code=403)
    with _session() as session, session.begin():
        end_token(request.cookies.get(COOKIE_NAME), session=session)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict",
                           secure=came_over_https(request))
    return response


ROUTES = [
    Route(SESSION_PATH, adopt_session, methods=["POST"]),
    Route(SIGN_OUT_PATH, sign_out, methods=["POST"]),
    layer_route(signed_in=signed_in_request),
    *PUBLIC_ROUTES,
]
