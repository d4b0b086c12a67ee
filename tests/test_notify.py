"""The sender against real receivers on 127.0.0.1: one that answers, one that fails, one that hangs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.i18n import CATALOGUE
from governance.db import transaction
from governance.errors import NotFoundError, ValidationError
from governance.models import Delivery
from governance.settings import Settings
from governance.testing import IN_G001, seed_small_district
from governance.workflow import file_case
from pipelines.notify import run_pass
from pipelines.notify_format import LABELS
from pipelines.notify_hooks import add_webhook, list_webhooks, remove_webhook
from tests import test_ingest_shops as shop_tests
from tests.receivers import receiver
from tests.test_ingest_shops import database_url

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Quanzhou
BASE = "https://linpu.example.gov.cn/app"
cli = shop_tests.cli
SETTINGS = Settings(base_url=BASE, notify_timeout_seconds=0.5, notify_lease_seconds=5, notify_backoff_seconds=60,
                    notify_backoff_max_seconds=300, notify_digest_hour=23)


@pytest.fixture
def world(engine):
    district = seed_small_district(engine, now=NOW)
    return engine, district.viewer(engine, "leader1")


def _file(engine, viewer, title="液化气瓶倒放 [点此](http://evil)"):
    with transaction(engine) as session:
        case = file_case(session, viewer, kind="patrol", category="gas", severity="high", title=title,
                         lon=IN_G001[0], lat=IN_G001[1], now=NOW)
        return case.case_no


def test_each_robot_gets_its_own_format_in_chinese_with_china_time_and_a_link(world):
    engine, leader = world
    with receiver() as wecom, receiver() as dingtalk, receiver() as plain:
        add_webhook(engine, url=wecom.url + "?key=secret-key-123", fmt="wecom")
        add_webhook(engine, url=dingtalk.url, fmt="dingtalk")
        add_webhook(engine, url=plain.url, fmt="json", language="en")
        case_no = _file(engine, leader)
        report = run_pass(engine, now=NOW, settings=SETTINGS)
        assert report.delivered == 3 and report.failed == 0
        [w], [d], [j] = wecom.requests, dingtalk.requests, plain.requests
    link = f"{BASE}/?case={case_no}"
    content = w.body["markdown"]["content"]
    assert w.body["msgtype"] == "markdown" and "新案件" in content and f"({link})" in content
    assert "2026-11-21 09:00（北京时间）" in content  # due 24 h after 01:00 UTC, shown in China time
    assert "用气" in content and "严重" in content
    assert "[点此](http://evil)" not in content and "［点此］（http://evil）" in content  # typed text stays text
    assert d.body["msgtype"] == "markdown" and d.body["markdown"]["title"] == "邻铺 · 新案件"
    assert f"({link})" in d.body["markdown"]["text"]
    assert j.body["event"] == "case_raised" and j.body["link"] == link and j.body["title"] == "Linpu · New case"
    assert "2026-11-21 09:00 China time" in j.body["text"] and "Gas" in j.body["text"]
    assert j.body["idempotency_key"] == j.headers["Idempotency-Key"]
    assert "secret-key-123" not in json.dumps([r.as_dict() for r in list_webhooks(engine)])


def test_a_failing_receiver_is_retried_with_backoff_and_a_confirmed_one_never_again(world):
    engine, leader = world
    with receiver("fail", failures=2) as flaky:
        add_webhook(engine, url=flaky.url, fmt="json")
        _file(engine, leader)
        assert run_pass(engine, now=NOW, settings=SETTINGS).failed == 1
        assert run_pass(engine, now=NOW + timedelta(seconds=59), settings=SETTINGS).failed == 0  # backing off
        assert len(flaky.requests) == 1
        assert run_pass(engine, now=NOW + timedelta(seconds=60), settings=SETTINGS).failed == 1
        # The second wait doubles: 120 s after the second failure, not 60.
        assert run_pass(engine, now=NOW + timedelta(seconds=179), settings=SETTINGS).delivered == 0
        assert run_pass(engine, now=NOW + timedelta(seconds=180), settings=SETTINGS).delivered == 1
        for later in (1, 2, 48):
            run_pass(engine, now=NOW + timedelta(hours=later), settings=SETTINGS)
        keys = [r.body["idempotency_key"] for r in flaky.requests if r.body["event"] == "case_raised"]
    assert len(keys) == 3 and len(set(keys)) == 1  # the same key on every retry; nothing after the 2xx
    assert [r.body["event"] for r in flaky.requests[3:]] == ["overdue"]  # 48 h on: a new notice, once
    with transaction(engine) as session:
        delivery = session.scalars(select(Delivery).order_by(Delivery.id)).first()
    assert delivery.attempts == 3 and delivery.delivered_at == NOW + timedelta(seconds=180)


def test_the_wait_between_retries_stops_growing_at_the_cap(world):
    engine, leader = world
    with receiver("fail", failures=100) as down:
        add_webhook(engine, url=down.url, fmt="json")
        _file(engine, leader)
        at = NOW
        for _ in range(6):
            run_pass(engine, now=at, settings=SETTINGS)
            with transaction(engine) as session:
                at = session.scalar(select(Delivery.next_attempt_at))
        waits = []
        for _ in range(2):
            before = at
            run_pass(engine, now=at, settings=SETTINGS)
            with transaction(engine) as session:
                at = session.scalar(select(Delivery.next_attempt_at))
            waits.append((at - before).total_seconds())
    assert waits == [300, 300] and len(down.requests) == 8


def test_a_hanging_receiver_times_out_without_holding_up_the_others(world):
    engine, leader = world
    with receiver("hang") as stuck, receiver() as fine:
        add_webhook(engine, url=stuck.url, fmt="json")
        add_webhook(engine, url=fine.url, fmt="wecom")
        _file(engine, leader)
        report = run_pass(engine, now=NOW, settings=SETTINGS)
        assert len(fine.requests) == 1 and report.delivered == 1 and report.failed == 1
        assert "no answer within 0.5 s" in report.errors[0]
        stuck.mode = "ok"
        stuck.released.set()
        assert run_pass(engine, now=NOW + timedelta(minutes=1), settings=SETTINGS).delivered == 1
    assert len(fine.requests) == 1 and len(stuck.requests) == 2


def test_a_robot_that_answers_200_with_an_error_code_is_not_counted_as_delivered(world):
    engine, leader = world
    with receiver("refuse") as robot:
        add_webhook(engine, url=robot.url, fmt="dingtalk")
        _file(engine, leader)
        report = run_pass(engine, now=NOW, settings=SETTINGS)
    assert report.delivered == 0 and "errcode 93000" in report.errors[0]
    assert list_webhooks(engine)[0].pending == 1 and "errcode 93000" in list_webhooks(engine)[0].last_error


def test_filters_pick_the_grid_role_and_member_kind(world):
    engine, leader = world
    with receiver() as g1, receiver() as g2, receiver() as fire, receiver() as security, receiver() as sup:
        add_webhook(engine, url=g1.url, fmt="json", grid_code="G001")
        add_webhook(engine, url=g2.url, fmt="json", grid_code="G002")
        add_webhook(engine, url=fire.url, fmt="json", member_kind="fire")
        add_webhook(engine, url=security.url, fmt="json", member_kind="security")
        add_webhook(engine, url=sup.url, fmt="json", role="supervisor")
        _file(engine, leader)  # a gas case in G001: the leader and the fire-safety member
        run_pass(engine, now=NOW, settings=SETTINGS)
        got = [len(r.requests) for r in (g1, g2, fire, security, sup)]
    assert got == [1, 0, 1, 0, 0]


def test_bad_webhooks_are_refused_naming_the_value_and_the_fix(world):
    engine, _ = world
    with pytest.raises(ValidationError, match=r"url='ftp://x/y\?key=abcd…' is not an http\(s\) address"):
        add_webhook(engine, url="ftp://x/y?key=abcdefgh", fmt="wecom")
    with pytest.raises(ValidationError, match="grid='G009' is no grid of the current generation"):
        add_webhook(engine, url="http://127.0.0.1:9/h", fmt="wecom", grid_code="G009")
    with pytest.raises(ValidationError, match="format='slack' is not known; allowed: wecom, dingtalk, json"):
        add_webhook(engine, url="http://127.0.0.1:9/h", fmt="slack")
    with pytest.raises(ValidationError, match="give --role member"):
        add_webhook(engine, url="http://127.0.0.1:9/h", fmt="json", role="supervisor", member_kind="fire")
    with pytest.raises(NotFoundError, match="webhook id=7 does not exist"):
        remove_webhook(engine, 7)


def test_the_cli_adds_lists_removes_and_runs_once(world, cli):
    engine, leader = world
    url = database_url(engine)
    with receiver() as robot:
        added = cli(url, "notify", "add", "--url", robot.url + "?key=very-secret", "--format", "wecom",
                    "--grid", "G001")
        assert added.exit_code == 0, added.stderr
        case_no = _file(engine, leader)
        ran = cli(url, "notify", "run", "--once")
        assert ran.exit_code == 0, ran.stderr
        # Past the digest hour (local time) the grid's leader digest goes out too: count the case's own message.
        delivered = int(re.search(r"delivered (\d+), failed 0", ran.stdout)[1])
        assert delivered == len(robot.requests)
        assert sum(case_no in json.dumps(r.body, ensure_ascii=False) for r in robot.requests) == 1
    listed = cli(url, "notify", "list")
    assert "grid=G001" in listed.stdout and f"delivered {delivered}" in listed.stdout
    assert "very-secret" not in listed.stdout
    bad = cli(url, "notify", "add", "--url", "http://127.0.0.1:9/h", "--format", "json", "--grid", "nope")
    assert bad.exit_code == 1 and "grid='nope' is no grid" in bad.stderr
    assert cli(url, "notify", "remove", "1").exit_code == 0
    assert "0 webhooks" in cli(url, "notify", "list").stdout


def test_message_words_are_the_uis_words():
    assert {key: words for key, words in CATALOGUE.items() if key in LABELS} == LABELS
