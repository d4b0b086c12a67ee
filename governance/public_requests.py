"""The public's orders and complaints (群众点单, 投诉) placed on a shop's page, followed without an account.

An order or complaint files a service request through the workflow (step
``request`` of the rules table) at the shop, in the shop's grid, with its
deadline and history like any other case.  The sender gets a tracking link
holding a random token (only its SHA-256 is stored; it opens that one
request's page and nothing else) and a short code which, with the phone
given, issues a new link when the first is lost.

Limits: at most ``LINPU_PUBLIC_ORDERS_PER_IP_PER_DAY`` per client address and
``LINPU_PUBLIC_ORDERS_PER_PHONE_PER_DAY`` per phone, per China-time day.  The
client address is kept only as a hash.  Photos pass the staff checks after
their GPS tags are stripped.

A tracked case merged into another as a duplicate (``governance.duplicates``)
is followed to the case it was merged into, so the link still tells the
truth.  A supervisor may hide an abusive order (step ``hide``): it closes
with the reason in its history and its page says only that it was withdrawn.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from governance.catalog import (
    CHECK_CATEGORIES,
    SERVICE_CATEGORIES,
    CaseState,
    Category,
    Outcome,
    PublicKind,
    Severity,
)
from governance.clock import clock, district_zone
from governance.errors import NotFoundError, PublicRefusal, ValidationError
from governance.models import Case, CaseHistory, PublicRequest, Rating, Shop
from governance.permissions import Viewer
from governance.settings import Settings, get_settings
from governance.workflow import checked_case, file_public_request, rate_case, write_step

#: What an order may ask for: a public service, or a nuisance or hazard category.
#: The problems the public may name: every category but the services and "other".
PROBLEM_TOPICS: tuple[str, ...] = tuple(c.value for c in Category
                                        if c is not Category.OTHER and c not in SERVICE_CATEGORIES)
ORDER_TOPICS: tuple[str, ...] = (*(c.value for c in SERVICE_CATEGORIES), *PROBLEM_TOPICS)
#: What a complaint about the shop may be about (a service is asked for, not complained of).
COMPLAINT_TOPICS: tuple[str, ...] = (*PROBLEM_TOPICS, Category.OTHER.value)
HAZARDS = frozenset({*CHECK_CATEGORIES, Category.FIRE_EXIT})
MAX_TEXT = 2000
#: No 0/O, 1/I/L: read off a phone screen and typed again without confusion.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE_LENGTH = 8
_PHONE = re.compile(r"^\+?\d{7,15}$")


@dataclass(frozen=True)
class Placed:
    """What the sender is shown once: the token of the tracking link and the short code."""

    token: str
    short_code: str
    case_no: str


@dataclass(frozen=True)
class Tracking:
    """One request as its tracking page shows it: state and dates only."""

    kind: str
    topic: str
    state: str
    created_at: datetime
    due_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    hidden: bool
    merged: bool
    can_rate: bool
    rating: int | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_hash(address: str) -> str:
    """The client address as stored: enough to count its orders of a day, not shown anywhere."""
    return hashlib.sha256(f"linpu-public-client:{address}".encode()).hexdigest()


def normal_phone(phone: str | None) -> str | None:
    """Digits (and a leading +) of a phone number, or None for none; PublicRefusal if it is not one."""
    phone = re.sub(r"[\s\-()]", "", phone or "")
    if not phone:
        return None
    if not _PHONE.match(phone):
        raise PublicRefusal(f"phone={phone!r} is not a phone number (7 to 15 digits)", key="public.error.phone")
    return phone


def _day_start(now: datetime) -> datetime:
    local = now.astimezone(district_zone())
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)


def _check_limits(session: Session, *, client: str, phone: str | None, now: datetime, settings: Settings) -> None:
    since = _day_start(now)
    today = select(func.count()).select_from(PublicRequest).where(PublicRequest.created_at >= since)
    if session.scalar(today.where(PublicRequest.client_hash == client)) >= settings.public_orders_per_ip_per_day:
        raise PublicRefusal(
            f"this address placed {settings.public_orders_per_ip_per_day} requests today, the most allowed "
            "(LINPU_PUBLIC_ORDERS_PER_IP_PER_DAY); try again tomorrow",
            key="public.error.ip_limit", limit=settings.public_orders_per_ip_per_day,
        )
    if phone and session.scalar(today.where(PublicRequest.phone == phone)) >= settings.public_orders_per_phone_per_day:
        raise PublicRefusal(
            f"this phone placed {settings.public_orders_per_phone_per_day} requests today, the most allowed "
            "(LINPU_PUBLIC_ORDERS_PER_PHONE_PER_DAY); try again tomorrow",
            key="public.error.phone_limit", limit=settings.public_orders_per_phone_per_day,
        )


def _topic(kind: PublicKind, topic: str) -> tuple[Category, str | None]:
    allowed = ORDER_TOPICS if kind is PublicKind.ORDER else COMPLAINT_TOPICS
    if topic not in allowed:
        raise PublicRefusal(f"topic={topic!r} is not known; allowed: {', '.join(allowed)}", key="public.error.topic")
    # A service is the case's own category (its department is prefilled when dispatched); kept as the service too.
    return Category(topic), (topic if Category(topic) in SERVICE_CATEGORIES else None)


def open_shop(session: Session, public_id: str) -> Shop:
    """The open shop with this public id; NotFoundError otherwise (a closed shop's board leads nowhere)."""
    shop = session.scalar(select(Shop).where(Shop.public_id == public_id, Shop.closed_at.is_(None)))
    if shop is None:
        raise NotFoundError(f"no open shop has the public id {public_id!r}")
    return shop


def _unique_code(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
        if session.scalar(select(PublicRequest.id).where(PublicRequest.short_code == code)) is None:
            return code


def place_request(
    session: Session,
    *,
    public_id: str,
    kind: PublicKind | str,
    topic: str,
    text: str,
    phone: str | None = None,
    photo: tuple[str, str, bytes] | None = None,
    client_address: str,
    language: str = "zh",
    now: datetime | None = None,
    settings: Settings | None = None,
) -> Placed:
    # Long: the checks of a public form in the order the page reports them, then the one filing.
    """File the public's order or complaint from a shop's page; PublicRefusal (nothing written) when refused."""
    settings = settings or get_settings()
    now = clock(now)
    shop = open_shop(session, public_id)
    try:
        kind = PublicKind(kind)
    except ValueError:
        raise PublicRefusal(f"kind={kind!r} is not order or complaint", key="public.error.kind") from None
    category, service = _topic(kind, topic)
    text = (text or "").strip()
    if not text:
        raise PublicRefusal("text is empty; say what you need or what is wrong", key="public.error.text_empty")
    if len(text) > MAX_TEXT or "\x00" in text:
        raise PublicRefusal(f"text is {len(text)} characters; at most {MAX_TEXT}, no NUL", key="public.error.text_long",
                            limit=MAX_TEXT)
    phone = normal_phone(phone)
    client = client_hash(client_address)
    _check_limits(session, client=client, phone=phone, now=now, settings=settings)
    attachments = []
    if photo is not None and photo[2]:
        attachments.append(photo)  # store_attachment strips its GPS tags, as for staff
    prefix = "群众点单：" if kind is PublicKind.ORDER else "群众投诉："
    first_line = text.splitlines()[0]
    case = file_public_request(
        session, shop=shop, category=category, severity=Severity.MEDIUM if category in HAZARDS else Severity.LOW,
        title=prefix + first_line[:120], description=text, attachments=attachments, now=now,
        about_shop=kind is PublicKind.COMPLAINT,
    )
    token = secrets.token_urlsafe(24)
    row = PublicRequest(
        case_id=case.id, shop_id=shop.id, kind=kind, service=service, token_hash=token_hash(token),
        short_code=_unique_code(session), phone=phone, client_hash=client, language=language[:2], created_at=now,
    )
    session.add(row)
    session.flush()
    return Placed(token=token, short_code=row.short_code, case_no=case.case_no)


def find_request(session: Session, token: str) -> PublicRequest | None:
    """The request whose tracking token this is, or None (a wrong token tells nothing)."""
    if not token or len(token) > 64:
        return None
    return session.scalar(select(PublicRequest).where(PublicRequest.token_hash == token_hash(token)))


def recover_link(session: Session, *, short_code: str, phone: str) -> str:
    """A new tracking token for the request with this short code and phone; the lost one stops working.

    Only the hash of a token is stored, so the old link cannot be given back.
    """
    phone = normal_phone(phone)
    row = session.scalar(select(PublicRequest).where(
        PublicRequest.short_code == (short_code or "").strip().upper(), PublicRequest.phone == phone,
    )) if phone else None
    if row is None:
        raise PublicRefusal("no request has this code and phone", key="public.error.recover")
    token = secrets.token_urlsafe(24)
    row.token_hash = token_hash(token)
    session.flush()
    return token


def followed_case(session: Session, case: Case) -> Case:
    """The case itself, or the case it was merged into as a duplicate (and so on)."""
    seen = {case.id}
    while case.outcome == Outcome.DUPLICATE:
        target_no = session.scalar(
            select(CaseHistory.details).where(CaseHistory.case_id == case.id, CaseHistory.action == "merge")
            .order_by(CaseHistory.seq.desc()).limit(1)
        )
        target = target_no and session.scalar(select(Case).where(Case.case_no == target_no.get("duplicate_of")))
        if target is None or target.id in seen:
            break
        seen.add(target.id)
        case = target
    return case


def _last_rating(session: Session, case: Case) -> Rating | None:
    return session.scalar(select(Rating).where(Rating.case_id == case.id).order_by(Rating.rated_at.desc()).limit(1))


def _may_rate(case: Case, last: Rating | None) -> bool:
    # One rating per resolution: after a poor rating reopened it, the next resolution may be rated again.
    if case.state not in (CaseState.FOLLOW_UP, CaseState.CLOSED) or case.outcome == Outcome.DUPLICATE:
        return False
    return last is None or (case.resolved_at is not None and last.rated_at < case.resolved_at)


def tracking_view(session: Session, token: str) -> Tracking | None:
    """What the tracking page of this token shows, or None for an unknown token."""
    row = find_request(session, token)
    if row is None:
        return None
    own = session.get(Case, row.case_id)
    case = followed_case(session, own)
    last = _last_rating(session, case)
    hidden = row.hidden_at is not None
    return Tracking(
        kind=row.kind.value, topic=row.service or own.category.value, state=case.state.value,
        created_at=own.created_at, due_at=case.due_at, resolved_at=case.resolved_at, closed_at=case.closed_at,
        outcome=case.outcome.value if case.outcome else None, hidden=hidden, merged=case.id != own.id,
        can_rate=not hidden and _may_rate(case, last), rating=last.rating if last else None,
    )


def rate_request(session: Session, *, token: str, rating: int, comment: str = "",
                 now: datetime | None = None) -> Rating:
    """The sender's rating 1–5 of their resolved request, once per resolution (a poor one reopens it)."""
    row = find_request(session, token)
    if row is None:
        raise NotFoundError("no request has this tracking link")
    case = followed_case(session, session.get(Case, row.case_id))
    if row.hidden_at is not None or not _may_rate(case, _last_rating(session, case)):
        raise PublicRefusal(f"case {case.case_no} cannot be rated now (state {case.state.value}, rated already?)",
                            key="public.error.rate")
    comment = (comment or "").strip()[:MAX_TEXT].replace("\x00", "")
    return rate_case(session, case_id=case.id, rating=rating, comment=comment, rated_by="public", now=now)


def forget_phones(session: Session, *, now: datetime | None = None, settings: Settings | None = None) -> int:
    """Blank the phone of every public request closed more than ``LINPU_PUBLIC_KEEP_DAYS`` ago; how many.

    The privacy notice promises it.  The text and photos stay: they are the case's record.
    """
    keep_days = (settings or get_settings()).public_keep_days
    cutoff = clock(now) - timedelta(days=keep_days)
    closed_long_ago = select(Case.id).where(Case.state == CaseState.CLOSED, Case.closed_at < cutoff)
    result = session.execute(update(PublicRequest).where(PublicRequest.phone.is_not(None),
                                                         PublicRequest.case_id.in_(closed_long_ago))
                             .values(phone=None))
    return result.rowcount or 0


def is_public_request(session: Session, case_id: int) -> bool:
    """Whether the case was filed by the public from a shop's page."""
    return session.scalar(select(PublicRequest.id).where(PublicRequest.case_id == case_id)) is not None


def hide_request(session: Session, viewer: Viewer, case_id: int, *, expected_version: int, reason: str,
                 now: datetime | None = None) -> Case:
    """A supervisor hides an abusive public order: closed (step ``hide``) with the reason in its history."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("reason is empty; say why the order is hidden (it is kept in the case's history)")
    row = session.scalar(select(PublicRequest).where(PublicRequest.case_id == case_id))
    if row is None:
        raise NotFoundError(f"case {case_id} was not placed by the public; only public orders are hidden")
    now = clock(now)
    case = checked_case(session, viewer, case_id, "hide", expected_version=expected_version)
    write_step(session, viewer, case, "hide", note=reason, now=now, details={"outcome": "no_action_needed"})
    session.execute(update(PublicRequest).where(PublicRequest.id == row.id)
                    .values(hidden_at=now, hidden_reason=reason))
    return case


__all__ = [
    "COMPLAINT_TOPICS", "ORDER_TOPICS", "Placed", "Tracking", "client_hash", "find_request", "followed_case", "forget_phones",
    "hide_request", "is_public_request", "normal_phone", "open_shop", "place_request", "rate_request", "recover_link",
    "token_hash", "tracking_view",
]
