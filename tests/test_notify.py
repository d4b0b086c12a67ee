"""The sender against real receivers on 127.0.0.1: one that answers, one that fails, one that hangs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import select, update

from dashboard.i18n import CATALOGUE
from governance.catalog import CaseKind, CaseState, Category, Severity
from governance.db import transaction
from governance.departments import add_department
from governance.errors import NotFoundError, ValidationError
from governance.filing import file_cases
from governance.models import CheckDue, Delivery, Notification
from governance.outbox_clock import local_day, write_clock_events, write_digests
from governance.permissions import system_viewer
from governance.settings import Settings
from governance.testing import IN_G001, IN_G002, seed_small_district
from governance.workflow import dispatch, file_case, rate_case, transition
from pipelines.notify import run_pass
from pipelines.notify_format import LABELS, TEXTS, message
from pipelines.notify_hooks import add_webhook, list_webhooks, outbox_counts, remove_webhook
from tests import test_ingest_shops as shop_tests
from tests.conftest import ROOT
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


#: Every event a notice can be about: the message catalogue's own list, so a new event needs a case here.
EVENTS = sorted(key.removeprefix("event.") for key in TEXTS if key.startswith("event."))
#: Codes a reader must never see: the stored values of categories, severities and states, and the events.
RAW_CODES = {str(c) for c in (*Category, *Severity, *CaseState, *CaseKind)} | set(EVENTS)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _one_notice_of_each_event(engine, district, leader, supervisor) -> dict[str, dict]:
    """Each event's first notice as the outbox wrote it, through the steps that announce it."""
    with transaction(engine) as session:
        add_department(session, system_viewer(), "街道安监办")
        gas = file_case(session, leader, kind="patrol", category="gas", severity="high", title="液化气瓶倒放",
                        lon=IN_G001[0], lat=IN_G001[1], shop_code=district.shop_codes["G001"], now=NOW).id
        noise = file_case(session, leader, kind="service_request", category="noise", severity="low",
                          title="夜间噪音扰民", lon=IN_G001[0], lat=IN_G001[1], now=NOW).id
    with transaction(engine) as session:
        dispatch(session, supervisor, gas, department="街道安监办", expected_version=1, now=NOW)
    for action, version in (("take_on", 2), ("resolve", 3), ("reopen", 4)):
        with transaction(engine) as session:
            transition(session, leader, gas, action, expected_version=version, note="仍未整改", now=NOW)
    for action, version in (("take_on", 1), ("resolve", 2), ("confirm", 3)):
        with transaction(engine) as session:
            transition(session, leader, noise, action, expected_version=version, now=NOW)
    with transaction(engine) as session:
        rate_case(session, case_id=noise, rating=1, comment="噪音照旧", now=NOW)
        file_cases(session, supervisor, pd.DataFrame({
            "kind": "patrol", "category": "fumes", "severity": "medium", "title": ["油烟 1", "油烟 2"],
            "lon": [IN_G002[0]] * 2, "lat": [IN_G002[1]] * 2, "created_at": [NOW] * 2}))
        _, tomorrow = local_day(NOW)
        session.execute(update(CheckDue).values(due_at=NOW - timedelta(days=30)))
        session.execute(update(CheckDue).where(CheckDue.category == Category.ELECTRICITY,
                                               CheckDue.grid_id == district.grid_ids["G002"])
                        .values(due_at=tomorrow + timedelta(hours=2)))
    # Gas counts calendar hours: the high-severity case is due 24 h after filing.
    for at in (NOW, NOW + timedelta(hours=21), NOW + timedelta(hours=25)):
        with transaction(engine) as session:
            write_clock_events(session, at, due_soon=timedelta(hours=4))
            write_digests(session, at, digest_hour=8)
    with transaction(engine) as session:
        notices = session.scalars(select(Notification).order_by(Notification.id)).all()
        first: dict[str, dict] = {}
        for notice in notices:
            first.setdefault(notice.event, dict(notice.data))
    return first


def _typed_values(data: dict) -> list[str]:
    """What users typed or the register holds (names, titles, numbers): shown as they are, in any language."""
    values = [data.get(k) for k in ("title", "shop", "shop_code", "comment", "department", "leader", "case_no",
                                    "grid_code", "date")]
    values += list(data.get("case_nos", [])) + [g["grid_code"] for g in data.get("grids", [])]
    return sorted((str(v) for v in values if v), key=len, reverse=True)


@pytest.fixture
def every_event(engine):
    district = seed_small_district(engine, now=NOW)
    return _one_notice_of_each_event(engine, district, district.viewer(engine, "leader1"),
                                     district.viewer(engine, "supervisor"))


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_event_reads_in_its_language_with_china_time_and_its_link(every_event, language):
    assert sorted(every_event) == EVENTS
    other = "en" if language == "zh" else "zh"
    for event, data in every_event.items():
        title, lines, link = message(event, data, language, BASE)
        text = "\n".join([title, *lines])
        assert title == f"{TEXTS['brand'][language]} · {TEXTS['event.' + event][language]}", (event, title)
        assert TEXTS["event." + event][other] not in text, (event, text)
        # No i18n key (category.gas, event.overdue) and no stored code (gas, high, in_progress).
        assert not re.search(r"\b[a-z_]+\.[a-z_]+\b", text), (event, text)
        assert not RAW_CODES & set(re.findall(r"[a-z_]+", text)), (event, text)
        rest = text
        for value in _typed_values(data):
            rest = rest.replace(value, "")
        if language == "zh":
            assert not re.search(r"[A-Za-z]", rest), (event, rest)  # every word Chinese
        else:
            assert not re.search(r"[\u3000-\u9fff\uff00-\uffef]", rest), (event, rest)  # no Chinese left
        # Every time in China time, and only in China time.
        stamp = data.get("deadline") or data.get("due_at")
        if stamp:
            local = datetime.fromisoformat(stamp).astimezone(SHANGHAI)
            said = f"{local:%Y-%m-%d %H:%M}（北京时间）" if language == "zh" else f"{local:%Y-%m-%d %H:%M} China time"
            assert said in text, (event, text)
            utc = datetime.fromisoformat(stamp).astimezone(UTC)
            assert f"{utc:%Y-%m-%d %H:%M}" not in text and "+00:00" not in text, (event, text)
        if "case_no" in data:
            assert link == f"{BASE}/?case={data['case_no']}", (event, link)
        else:
            code = data["grid_code"] if "grid_code" in data else data["grids"][0]["grid_code"]
            assert link == f"{BASE}/?grid={code}", (event, link)
    assert "1/5" in "\n".join(message("rated_poorly", every_event["rated_poorly"], language, BASE)[1])
    digest = "\n".join(message("daily_digest", every_event["daily_digest"], language, BASE)[1])
    assert "G001" in digest and every_event["daily_digest"]["leader"] in digest


def _wait_for(robot, n: int, sender) -> None:
    """Until ``robot`` has ``n`` new-case messages (a guard of 60 s against a sender that never sends)."""
    deadline = time.monotonic() + 60
    while len([r for r in robot.requests if r.body["event"] == "case_raised"]) < n:
        assert sender.poll() is None, sender.communicate()
        assert time.monotonic() < deadline, f"{len(robot.requests)} messages after 60 s"
        time.sleep(0.05)


def test_the_long_running_sender_delivers_each_new_case_until_it_is_stopped(engine):
    district = seed_small_district(engine)
    leader = district.viewer(engine, "leader1")
    url = database_url(engine)

    def file(title: str) -> str:
        with transaction(engine) as session:
            return file_case(session, leader, kind="patrol", category="noise", severity="low", title=title,
                             lon=IN_G001[0], lat=IN_G001[1]).case_no

    env = {**os.environ, "LINPU_DATABASE_URL": url, "PYTHONPATH": str(ROOT), "LINPU_NOTIFY_POLL_SECONDS": "0.2",
           "LINPU_BASE_URL": BASE}
    with receiver() as robot:
        add_webhook(engine, url=robot.url, fmt="json")
        first = file("夜间噪音")
        sender = subprocess.Popen([sys.executable, "-m", "pipelines", "notify", "run"], env=env, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(robot, 1, sender)
            second = file("凌晨装修噪音")  # filed while the sender waits between passes
            _wait_for(robot, 2, sender)
        finally:
            sender.send_signal(signal.SIGINT)  # Ctrl-C, as an operator stops it
            out, err = sender.communicate(timeout=60)
    assert sender.returncode == 0 and "stopped" in err, (sender.returncode, err)
    # Each pass that sends says what it delivered (how many a pass takes depends on its timing).
    assert re.search(r"delivered [1-9]", out), out
    raised = [r.body for r in robot.requests if r.body["event"] == "case_raised"]
    assert [body["link"] for body in raised] == [f"{BASE}/?case={first}", f"{BASE}/?case={second}"]
    assert len({body["idempotency_key"] for body in raised}) == 2  # each delivered once, none again
    assert outbox_counts(engine)["pending"] == 0
