"""The webhooks notifications go to: add, list, remove (``linpu notify add|list|remove``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from sqlalchemy import Engine, case, func, select

from governance.db import transaction
from governance.errors import NotFoundError, ValidationError
from governance.grids import current_generation_id
from governance.models import Delivery, Grid, Notification, Webhook
from governance.outbox import AUDIENCES, MEMBER_KINDS
from pipelines.notify_format import FORMATS, LANGUAGES


def _choice(value: str | None, allowed, field: str, fix: str) -> str | None:
    if value is None or value == "":
        return None
    if value not in allowed:
        raise ValidationError(f"{field}={value!r} is not known; allowed: {', '.join(allowed)}; {fix}")
    return value


def add_webhook(engine: Engine, *, url: str, fmt: str, grid_code: str | None = None, role: str | None = None,
                member_kind: str | None = None, language: str = "zh") -> int:
    """Register a webhook; returns its id.  Refuses a URL that is not http(s), unknown codes and grids."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(f"url={mask_url(url)!r} is not an http(s) address; give the robot's webhook URL "
                              "as shown in the group's robot settings")
    _choice(fmt, FORMATS, "format", "choose the robot's kind")
    _choice(language, LANGUAGES, "language", "messages are Chinese (zh) or English (en)")
    _choice(role, AUDIENCES, "role", "or leave it out to hear every audience")
    _choice(member_kind, MEMBER_KINDS, "member-kind", "or leave it out")
    if member_kind and role not in (None, "member"):
        raise ValidationError(f"member-kind={member_kind!r} filters team members; with role={role!r} it would "
                              "match nothing: leave out --role or give --role member")
    with transaction(engine) as session:
        if grid_code:
            known = session.scalar(select(Grid.id).where(Grid.code == grid_code,
                                                         Grid.generation_id == current_generation_id(session)))
            if known is None:
                raise ValidationError(f"grid={grid_code!r} is no grid of the current generation; "
                                      "give a code that `linpu grids` lists, or leave it out")
        hook = Webhook(url=url, format=fmt, language=language, grid_code=grid_code or None,
                       role="member" if member_kind and not role else role, member_kind=member_kind)
        session.add(hook)
        session.flush()
        return hook.id


def mask_url(url: str) -> str:
    """The URL with its query values (a robot's key or access token) cut to their first 4 characters."""
    parts = urlsplit(url or "")
    query = "&".join(f"{k}={v[:4] + '…' if len(v) > 4 else v}" for k, v in parse_qsl(parts.query))
    return urlunsplit(parts._replace(query=query))


@dataclass(frozen=True)
class WebhookRow:
    id: int
    url: str  # masked
    format: str
    language: str
    grid_code: str | None
    role: str | None
    member_kind: str | None
    delivered: int
    pending: int
    last_error: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def list_webhooks(engine: Engine) -> list[WebhookRow]:
    """Every webhook with its delivered and pending counts and its latest failure."""
    with transaction(engine) as session:
        counts = {
            hook_id: (int(done or 0), int(waiting or 0))
            for hook_id, done, waiting in session.execute(
                select(Delivery.webhook_id,
                       func.sum(case((Delivery.delivered_at.is_not(None), 1), else_=0)),
                       func.sum(case((Delivery.delivered_at.is_(None), 1), else_=0)))
                .group_by(Delivery.webhook_id)
            ).all()
        }
        errors = dict(session.execute(
            select(Delivery.webhook_id, func.max(Delivery.last_error))
            .where(Delivery.delivered_at.is_(None), Delivery.last_error != "").group_by(Delivery.webhook_id)
        ).all())
        return [
            WebhookRow(h.id, mask_url(h.url), h.format, h.language, h.grid_code, h.role,
                       str(h.member_kind) if h.member_kind else None, *counts.get(h.id, (0, 0)),
                       errors.get(h.id, ""))
            for h in session.scalars(select(Webhook).order_by(Webhook.id)).all()
        ]


def remove_webhook(engine: Engine, webhook_id: int) -> None:
    """Remove a webhook and its deliveries (delivered or not); the notifications stay."""
    with transaction(engine) as session:
        hook = session.get(Webhook, webhook_id)
        if hook is None:
            ids = ", ".join(str(i) for i in session.scalars(select(Webhook.id).order_by(Webhook.id))) or "none"
            raise NotFoundError(f"webhook id={webhook_id} does not exist; ids now: {ids} (see `linpu notify list`)")
        session.delete(hook)


def outbox_counts(engine: Engine) -> dict[str, int]:
    """Notifications written, not yet fanned out, and deliveries pending."""
    with transaction(engine) as session:
        return {
            "notifications": session.scalar(select(func.count()).select_from(Notification)),
            "unsent": session.scalar(select(func.count()).where(Notification.fanned_out_at.is_(None))),
            "pending": session.scalar(select(func.count()).where(Delivery.delivered_at.is_(None))),
        }


__all__ = ["WebhookRow", "add_webhook", "list_webhooks", "mask_url", "outbox_counts", "remove_webhook"]
