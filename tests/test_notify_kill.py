"""A sender killed with SIGKILL mid-delivery loses nothing and never resends a confirmed notification.

The receiver itself kills the sender (``kill -9``) while the fourth message is
in flight: it was claimed and sent, never confirmed.  Later runs must deliver
every notification at least once, and no message may arrive after its
delivery was recorded as confirmed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import select

from governance.db import make_engine, transaction
from governance.migrate import upgrade
from governance.models import Delivery, Notification
from governance.testing import IN_G001, seed_small_district
from governance.workflow import file_case
from pipelines.notify_hooks import add_webhook, outbox_counts
from tests.conftest import ROOT
from tests.receivers import receiver

CASES = 10
KILL_ON = 4
RERUNS = 40  # bounded: each rerun is one pass, a lease (1 s) at most apart


def _sender(url: str) -> subprocess.Popen:
    env = {**os.environ, "LINPU_DATABASE_URL": url, "PYTHONPATH": str(ROOT), "LINPU_NOTIFY_LEASE_SECONDS": "1",
           "LINPU_NOTIFY_TIMEOUT_SECONDS": "5", "LINPU_NOTIFY_BACKOFF_SECONDS": "0.2"}
    return subprocess.Popen([sys.executable, "-m", "pipelines", "notify", "run", "--once"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_sender_killed_mid_delivery_loses_nothing_and_never_resends_a_confirmed_one(tmp_path):
    url = f"sqlite:///{tmp_path / 'notify.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    district = seed_small_district(engine)
    leader = district.viewer(engine, "leader1")
    with receiver() as robot:
        add_webhook(engine, url=robot.url, fmt="json")
        for i in range(CASES):
            with transaction(engine) as session:
                file_case(session, leader, kind="patrol", category="noise", severity="low", title=f"噪音 {i}",
                          lon=IN_G001[0], lat=IN_G001[1], now=datetime.now(UTC))
        first = _sender(url)
        robot.kill_pid_on = (first.pid, KILL_ON)
        first.communicate(timeout=120)
        assert first.returncode == -9, "the receiver killed the sender mid-delivery"
        assert len(robot.requests) == KILL_ON
        for _ in range(RERUNS):
            if outbox_counts(engine)["pending"] == 0:
                break
            rerun = _sender(url)
            out, err = rerun.communicate(timeout=120)
            assert rerun.returncode == 0, err.decode()
            time.sleep(0.3)
        received = list(robot.requests)
    with transaction(engine) as session:
        keys = {f"linpu:{key}:1" for key in session.scalars(select(Notification.key))}
        confirmed = {f"linpu:{key}:1": at for key, at in session.execute(
            select(Notification.key, Delivery.delivered_at).join(Delivery, Delivery.notification_id == Notification.id))}
    engine.dispose()
    # Clock events (a digest past its hour, a case due soon) may join the cases' own notifications.
    assert sum(key.startswith("linpu:case_raised:") for key in keys) == CASES and all(at is not None for at in confirmed.values())
    assert {r.body["idempotency_key"] for r in received} == keys  # every notification at least once
    in_flight = received[KILL_ON - 1].body["idempotency_key"]
    assert sum(r.body["idempotency_key"] == in_flight for r in received) == 2  # sent again after the kill
    late = [r.body["idempotency_key"] for r in received if r.at > confirmed[r.body["idempotency_key"]].timestamp()]
    assert late == []  # nothing arrived after its delivery was confirmed
