"""The public pages: a shop's page (from its board's QR code), the tracking page, a grid's page.

Served by the app's own routes (``dashboard.routes.ROUTES``) as server-rendered
HTML: no account, no script, Chinese first with an English switch, readable on
a 390 px phone.  Jinja2 escapes every value (autoescape), and a strict
Content-Security-Policy forbids scripts, so text the public typed is shown as
text.  The tracking token sits in the path; ``Referrer-Policy: no-referrer``
keeps it from leaving with a click, and tracking pages are not cached.  A
public visitor reaches nothing else: every path here reads one shop, one
grid or the one request of a token.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from dashboard.context import engine
from dashboard.i18n import translate
from governance.catalog import SERVICE_CATEGORIES, PublicKind
from governance.clock import district_zone
from governance.db import transaction
from governance.errors import AttachmentError, NotFoundError, PublicRefusal
from governance.public_requests import (
    PROBLEM_TOPICS,
    place_request,
    rate_request,
    recover_link,
    tracking_view,
)
from governance.public_view import (
    FIGURE_DAYS,
    GRID_PATH,
    SHOP_PATH,
    TRACK_PATH,
    grid_page,
    public_address,
    shop_page,
)
from governance.settings import get_settings

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "public"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
FIND_PATH = "/p/find"
#: A photo larger than this is not read to the end: the limit check has seen enough.
_READ_SLACK = 1024


def client_address(request: Request) -> str:
    """The visitor's address: the peer, or the nearest untrusted hop of X-Forwarded-For when the peer is a
    proxy named in ``LINPU_TRUSTED_PROXIES`` (anyone else could write any address there)."""
    trusted = get_settings().trusted_proxy_addresses
    peer = request.client.host if request.client else ""
    if peer not in trusted:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer


def _lang(request: Request, form=None) -> str:
    chosen = (form or {}).get("lang") or request.query_params.get("lang") or get_settings().language
    return chosen if chosen in ("zh", "en") else "zh"


def _local(moment: datetime | None) -> str:
    return moment.astimezone(district_zone()).strftime("%Y-%m-%d %H:%M") if moment else ""


def _render(name: str, lang: str, *, status: int = 200, switch: str = "", **context) -> HTMLResponse:
    def t(key: str, **values) -> str:
        return translate(key, lang, **values)

    other = "en" if lang == "zh" else "zh"
    html = _TEMPLATES.get_template(name).render(t=t, lang=lang, local=_local, switch_href=f"{switch}?lang={other}",
                                                figure_days=FIGURE_DAYS,
                                                **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _not_found(lang: str) -> HTMLResponse:
    return _render("message.html", lang, status=404, title=translate("public.not_found", lang),
                   message=translate("public.not_found_note", lang))


def _with_lang(path: str, lang: str) -> str:
    return f"{path}?lang={lang}"


def _shop_response(request: Request, public_id: str, lang: str, *, error: str = "", form=None,
                   status: int = 200) -> HTMLResponse:
    with transaction(engine()) as session:
        try:
            page = shop_page(session, public_id)
        except NotFoundError:
            return _not_found(lang)
    path = SHOP_PATH.format(public_id=public_id)
    return _render(
        "shop.html", lang, status=status, switch=path, page=page, error=error,
        form=form or {"kind": PublicKind.ORDER.value, "topic": SERVICE_CATEGORIES[0].value, "text": "", "phone": ""},
        action=path + "/request", grid_href=_with_lang(GRID_PATH.format(code=page.shop.grid_code), lang),
        find_href=_with_lang(FIND_PATH, lang), kinds=[k.value for k in PublicKind], services=[c.value for c in SERVICE_CATEGORIES],
        categories=list(PROBLEM_TOPICS), keep_days=get_settings().public_keep_days,
    )


def shop(request: Request) -> Response:
    return _shop_response(request, request.path_params["public_id"], _lang(request))


async def _read_photo(upload) -> tuple[str, str, bytes] | None:
    if upload is None or not getattr(upload, "filename", ""):
        return None
    limit = int(get_settings().max_attachment_mb * 1024 * 1024)
    data = await upload.read(limit + _READ_SLACK)
    return (upload.filename, upload.content_type or "", data) if data else None


async def place(request: Request) -> Response:
    public_id = request.path_params["public_id"]
    form = await request.form(max_files=1, max_fields=10)
    lang = _lang(request, form)
    values = {k: str(form.get(k) or "") for k in ("kind", "topic", "text", "phone")}
    photo = await _read_photo(form.get("photo"))
    address = client_address(request)

    def work():
        with transaction(engine()) as session:
            return place_request(session, public_id=public_id, kind=values["kind"], topic=values["topic"],
                                 text=values["text"], phone=values["phone"], photo=photo, client_address=address,
                                 language=lang)

    try:
        placed = await run_in_threadpool(work)
    except NotFoundError:
        return _not_found(lang)
    except AttachmentError:
        message = translate("public.error.photo", lang, mb=f"{get_settings().max_attachment_mb:g}")
        return _shop_response(request, public_id, lang, error=message, form=values, status=400)
    except PublicRefusal as refusal:
        status = 429 if refusal.key.endswith("_limit") else 400
        return _shop_response(request, public_id, lang, error=translate(refusal.key, lang, **refusal.values),
                              form=values, status=status)
    track = TRACK_PATH.format(token=placed.token)
    return _render("placed.html", lang, switch=SHOP_PATH.format(public_id=public_id), short_code=placed.short_code,
                   track_href=_with_lang(track, lang), track_url=public_address(track))


def _track_response(token: str, lang: str, *, error: str = "", status: int = 200) -> HTMLResponse:
    with transaction(engine()) as session:
        view = tracking_view(session, token)
    if view is None:
        return _not_found(lang)
    topic = translate(("service." if view.topic in SERVICE_CATEGORIES else "category.") + view.topic, lang)
    path = TRACK_PATH.format(token=token)
    return _render("track.html", lang, status=status, switch=path, view=view, topic_word=topic, error=error,
                   rate_action=path + "/rate")


def track(request: Request) -> Response:
    return _track_response(request.path_params["token"], _lang(request))


async def rate(request: Request) -> Response:
    token = request.path_params["token"]
    form = await request.form(max_files=0, max_fields=5)
    lang = _lang(request, form)
    try:
        rating = int(str(form.get("rating") or ""))
    except ValueError:
        return _track_response(token, lang, error=translate("public.error.rating", lang), status=400)
    if not 1 <= rating <= 5:
        return _track_response(token, lang, error=translate("public.error.rating", lang), status=400)

    def work():
        with transaction(engine()) as session:
            rate_request(session, token=token, rating=rating, comment=str(form.get("comment") or ""))

    try:
        await run_in_threadpool(work)
    except NotFoundError:
        return _not_found(lang)
    except PublicRefusal as refusal:
        return _track_response(token, lang, error=translate(refusal.key, lang), status=409)
    return RedirectResponse(_with_lang(TRACK_PATH.format(token=token), lang), status_code=303, headers=HEADERS)


def find_form(request: Request) -> Response:
    return _render("find.html", _lang(request), switch=FIND_PATH, action=FIND_PATH)


async def find(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    lang = _lang(request, form)

    def work():
        with transaction(engine()) as session:
            return recover_link(session, short_code=str(form.get("code") or ""), phone=str(form.get("phone") or ""))

    try:
        token = await run_in_threadpool(work)
    except PublicRefusal:
        return _render("find.html", lang, status=404, switch=FIND_PATH, action=FIND_PATH,
                       error=translate("public.error.recover", lang))
    return RedirectResponse(_with_lang(TRACK_PATH.format(token=token), lang), status_code=303, headers=HEADERS)


def grid(request: Request) -> Response:
    lang = _lang(request)
    code = request.path_params["code"]
    with transaction(engine()) as session:
        try:
            page = grid_page(session, code)
        except NotFoundError:
            return _not_found(lang)
    return _render("grid.html", lang, switch=GRID_PATH.format(code=code), page=page,
                   shop_href=lambda public_id: _with_lang(SHOP_PATH.format(public_id=public_id), lang))


PUBLIC_ROUTES = [
    Route(SHOP_PATH, shop, methods=["GET"]),
    Route(SHOP_PATH + "/request", place, methods=["POST"]),
    Route(TRACK_PATH, track, methods=["GET"]),
    Route(TRACK_PATH + "/rate", rate, methods=["POST"]),
    Route(FIND_PATH, find_form, methods=["GET"]),
    Route(FIND_PATH, find, methods=["POST"]),
    Route(GRID_PATH, grid, methods=["GET"]),
]
