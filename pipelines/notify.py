"""The sender: delivers the outbox to the webhooks, at least once, never again once confirmed.

One pass (``linpu notify run --once``; ``run`` repeats it):

1. **Scan the clock**: write due-soon, overdue, check-due-tomorrow notices and
   the leaders' daily digests (``governance.outbox_clock``; unique keys make a
   second write of one event impossible).
2. **Fan out**: every notification not yet fanned out gets one delivery row
   per matching webhook, in one transaction with marking it fanned out.
3. **Deliver**, one delivery at a time: *claim* it (a committed ``UPDATE``
   setting a lease and a claim token, only where it is undelivered, due and
   not leased), POST it, then either *confirm* it (``delivered_at``, only
   after a 2xx answer, and for a robot an ``errcode`` of 0) or schedule a
   retry after an exponential backoff capped at a setting.

A sender killed at any point loses nothing: before the claim the row is
untouched; after it, the lease runs out and the next pass sends it again
(at least once: a receiver may see a message twice, and the JSON format's
idempotency key lets it tell).  A confirmed delivery is never claimed again.
The client's timeout is a setting, shorter than the lease.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from governance.clock import clock
from governance.db import transaction
from governance.models import Delivery, Notification, Webhook
from governance.outbox_clock import write_clock_events, write_digests
from governance.settings import Settings, get_settings
from pipelines.notify_format import body

#: Deliveries attempted in one pass at most; the next pass continues.
MAX_PER_PASS = 1000
FAN_OUT_BATCH = 500
ANSWER_BYTES = 65536


@dataclass
class PassReport:
    fanned_out: int = 0
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"fanned out {self.fanned_out} notification(s), delivered {self.delivered}, failed {self.failed}"


def matches(hook: Webhook, note: Notification) -> bool:
    """Whether a webhook's filters (grid, role, member kind) take this notification."""
    if hook.grid_code and hook.grid_code not in (note.grid_codes or []):
        return False
    if hook.member_kind:
        return "member" in note.audience and str(hook.member_kind) in (note.member_kinds or [])
    return not hook.role or hook.role in note.audience


def fan_out(engine: Engine, now: datetime) -> int:
    """Make the deliveries of notifications not yet fanned out; returns how many notifications."""
    with transaction(engine) as session:
        notes = session.scalars(select(Notification).where(Notification.fanned_out_at.is_(None))
                                .order_by(Notification.id).limit(FAN_OUT_BATCH)).all()
        if not notes:
            return 0
        hooks = session.scalars(select(Webhook)).all()
        rows = [{"notification_id": n.id, "webhook_id": h.id, "attempts": 0, "next_attempt_at": now,
                 "last_error": ""} for n in notes for h in hooks if matches(h, n)]
        if rows:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            session.execute(insert(Delivery.__table__).on_conflict_do_nothing(
                index_elements=["notification_id", "webhook_id"]), rows)
        session.execute(update(Notification).where(Notification.id.in_([n.id for n in notes]))
                        .values(fanned_out_at=now))
        return len(notes)


def _claimable(now: datetime):
    return and_(Delivery.delivered_at.is_(None), Delivery.next_attempt_at <= now,
                or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now))


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    claim: str
    attempts: int
    url: str
    fmt: str
    payload: dict
    idempotency_key: str


def claim_next(engine: Engine, now: datetime, settings: Settings) -> Claimed | None:
    """Claim the next due delivery (committed before anything is sent), or None when none is due."""
    for _ in range(5):  # another sender may win a row between the read and the update
        with transaction(engine) as session:
            delivery = session.scalar(select(Delivery).where(_claimable(now))
                                      .order_by(Delivery.next_attempt_at, Delivery.id).limit(1))
            if delivery is None:
                return None
            token = secrets.token_hex(8)
            won = session.execute(
                update(Delivery).where(Delivery.id == delivery.id, _claimable(now))
                .values(claim=token, attempts=Delivery.attempts + 1,
                        lease_until=now + timedelta(seconds=settings.notify_lease_seconds))
                .execution_options(synchronize_session=False)
            ).rowcount
            if won != 1:
                continue
            note = session.get(Notification, delivery.notification_id)
            hook = session.get(Webhook, delivery.webhook_id)
            key = f"linpu:{note.key}:{hook.id}"
            payload = body(hook.format, note.event, note.data, language=hook.language,
                           base_url=settings.base_url, idempotency_key=key, created_at=note.created_at)
            return Claimed(delivery.id, token, delivery.attempts + 1, hook.url, hook.format, payload, key)
    return None


def post(claimed: Claimed, timeout: float) -> str | None:
    """Send one delivery; None when the receiver confirmed it, else why not (one line)."""
    data = json.dumps(claimed.payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if claimed.fmt == "json":
        headers["Idempotency-Key"] = claimed.idempotency_key
    request = urllib.request.Request(claimed.url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read(ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except OSError as exc:  # URLError, timeouts and refused connections are all OSErrors
        reason = getattr(exc, "reason", exc)
        return f"no answer within {timeout:g} s" if isinstance(reason, TimeoutError) \
            else f"cannot reach the webhook: {reason}"
    if claimed.fmt in ("wecom", "dingtalk"):
        # The robots answer 200 with {"errcode": 0, "errmsg": "ok"}; another errcode is a refusal.
        try:
            answer_json = json.loads(text or b"{}")
        except ValueError:
            return "the robot's answer is not JSON"
        if isinstance(answer_json, dict) and answer_json.get("errcode", 0) != 0:
            return f"robot refused: errcode {answer_json.get('errcode')} {answer_json.get('errmsg', '')}".strip()
    return None


def backoff(attempts: int, settings: Settings) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: base × 2^(attempts−1), capped."""
    seconds = settings.notify_backoff_seconds * 2 ** min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(seconds, settings.notify_backoff_max_seconds))


def settle(engine: Engine, claimed: Claimed, error: str | None, now: datetime, settings: Settings) -> None:
    """Confirm a delivery after its 2xx, or release it for a retry after the backoff."""
    mine = and_(Delivery.id == claimed.delivery_id, Delivery.claim == claimed.claim, Delivery.delivered_at.is_(None))
    with transaction(engine) as session:
        if error is None:
            values = {"delivered_at": now, "lease_until": None, "last_error": ""}
        else:
            values = {"lease_until": None, "last_error": error[:500],
                      "next_attempt_at": now + backoff(claimed.attempts, settings)}
        session.execute(update(Delivery).where(mine).values(**values).execution_options(synchronize_session=False))


def run_pass(engine: Engine, *, now: datetime | None = None, settings: Settings | None = None) -> PassReport:
    """One pass of the sender: scan the clock, fan out, deliver what is due.  ``now`` pins the clock (tests)."""
    settings = settings or get_settings()
    pinned = now
    now = clock(now)
    report = PassReport()
    with transaction(engine) as session:
        write_clock_events(session, now, due_soon=timedelta(hours=settings.notify_due_soon_hours))
        write_digests(session, now, digest_hour=settings.notify_digest_hour)
    while fanned := fan_out(engine, now):
        report.fanned_out += fanned
    for _ in range(MAX_PER_PASS):
        claimed = claim_next(engine, clock(pinned), settings)
        if claimed is None:
            break
        error = post(claimed, settings.notify_timeout_seconds)
        settle(engine, claimed, error, clock(pinned), settings)
        if error is None:
            report.delivered += 1
        else:
            report.failed += 1
            report.errors.append(f"delivery {claimed.delivery_id}: {error}")
    return report


def run_forever(engine: Engine, *, settings: Settings | None = None, on_pass=None) -> None:
    """Pass after pass, pausing ``LINPU_NOTIFY_POLL_SECONDS`` between them, until interrupted."""
    settings = settings or get_settings()
    while True:
        report = run_pass(engine, settings=settings)
        if on_pass is not None:
            on_pass(report)
        time.sleep(settings.notify_poll_seconds)


__all__ = ["PassReport", "backoff", "claim_next", "fan_out", "matches", "post", "run_forever", "run_pass", "settle"]
