"""Public load (issue 23): 50 public visitors at once on the demo while a supervisor works.

Starts the app (``streamlit run``, the public routes included) on a fresh
copy of the demo, then:

1. **public alone**: ``--visitors`` threads, each a visitor who opens a shop's
   page (from its board's QR code), places an order or complaint one visit in
   three and opens its tracking page, then the grid's page, with
   ``--think`` seconds between pages; each visitor has an address of its own
   (``X-Forwarded-For`` from a trusted 127.0.0.1, as behind a proxy).  Latency
   per page (p50/p95), pages per second, errors, and the server process's CPU
   seconds per public page (from /proc: what a public visit costs);
2. **staff alone**: ``--staff-runs`` supervisor visits in Chromium (sign in,
   page drawn with its map), the issue 6 target being < 4 s;
3. **staff under the public load**: the same visits while the visitors run.

Usage::

    .venv/bin/python -m bench.public_bench --visitors 50 --seconds 40 --markdown
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from governance.db import make_engine, transaction  # noqa: E402
from governance.migrate import upgrade  # noqa: E402
from governance.models import Grid, Shop  # noqa: E402

PASSWORD = "linpu-demo"
TOPICS = ["noise", "fumes", "sanitation", "road_occupation", "policy", "jobs"]


def _demo_copy(folder: Path) -> str:
    from pipelines.demo_load import load_demo

    url = f"sqlite:///{folder / 'public-bench.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    load_demo(engine)
    engine.dispose()
    return url


def _targets(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url)
    with transaction(engine) as session:
        rows = session.execute(select(Shop.public_id, Grid.code).join(Grid, Grid.id == Shop.grid_id)
                               .where(Shop.closed_at.is_(None))).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def _server_cpu(port: int) -> float:
    """CPU seconds (user + system) of the streamlit process serving ``port``."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"streamlit" in b" ".join(cmdline) and str(port).encode() in cmdline:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    raise RuntimeError(f"no streamlit process serves port {port}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(opener, url: str, address: str, data: dict | None = None) -> tuple[int, str, float]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"X-Forwarded-For": address})
    start = time.perf_counter()
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.read().decode(), time.perf_counter() - start
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace"), time.perf_counter() - start


def _visitor(base: str, number: int, targets, stop: threading.Event, think: float, out: dict, lock) -> None:
    opener = urllib.request.build_opener(_NoRedirect)
    rng = random.Random(number)
    address = f"10.{number // 250}.{number % 250}.{rng.randrange(1, 250)}"
    while not stop.is_set():
        public_id, grid_code = rng.choice(targets)
        pages = [("shop", f"{base}/p/s/{public_id}", None)]
        if rng.random() < 1 / 3:
            pages.append(("order", f"{base}/p/s/{public_id}/request",
                          {"kind": "order", "topic": rng.choice(TOPICS), "text": f"bench order {number}",
                           "phone": ""}))
        pages.append(("grid", f"{base}/p/g/{grid_code}", None))
        for kind, url, data in pages:
            if stop.is_set():
                return
            status, text, seconds = _get(opener, url, address, data)
            with lock:
                out.setdefault(kind, []).append(seconds)
                if status != 200:
                    out.setdefault("errors", []).append(f"{kind} {status}")
            if kind == "order" and status == 200:
                found = re.search(r'href="(/p/t/[^"?]+)', text)
                status, _, seconds = _get(opener, base + found.group(1), address) if found else (0, "", 0)
                with lock:
                    out.setdefault("tracking", []).append(seconds)
                    if status != 200:
                        out.setdefault("errors", []).append(f"tracking {status}")
            time.sleep(think * rng.uniform(0.5, 1.5))


def _public_load(base: str, targets, visitors: int, think: float):
    stop, lock, out = threading.Event(), threading.Lock(), {}
    threads = [threading.Thread(target=_visitor, args=(base, n, targets, stop, think, out, lock), daemon=True)
               for n in range(visitors)]
    for thread in threads:
        thread.start()
    return stop, threads, out


def _staff_visits(base: str, runs: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    from bench.dashboard_bench import wait_drawn
    from tests.conftest import CHROMIUM_ARGS

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                             args=CHROMIUM_ARGS)
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(300_000)
            page.goto(f"{base}/?lang=en", wait_until="domcontentloaded")
            page.get_by_role("textbox", name="User name").fill("supervisor1")
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            start = time.perf_counter()
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="District supervision").wait_for()
            wait_drawn(page, start=start)
            times.append(time.perf_counter() - start)
            context.close()
        browser.close()
    return times


def _quantiles(values: list[float]) -> str:
    if not values:
        return "—"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.0f} / {p95 * 1000:.0f} ms"


def run(args) -> dict:
    from tests.conftest import running_app

    folder = Path(tempfile.mkdtemp(prefix="public-bench-"))
    url = _demo_copy(folder)
    targets = _targets(url)
    env = {"LINPU_TRUSTED_PROXIES": "127.0.0.1", "LINPU_PUBLIC_ORDERS_PER_IP_PER_DAY": "100000",
           "LINPU_DEMO_MODE": "true", "LINPU_VAR_DIR": str(folder / "var")}
    result: dict = {"visitors": args.visitors, "seconds": args.seconds, "think": args.think}
    with running_app(url, folder / "streamlit.log", extra_env=env) as base:
        port = int(base.rsplit(":", 1)[1])
        opener = urllib.request.build_opener()
        _get(opener, f"{base}/p/s/{targets[0][0]}", "10.255.0.1")  # first imports and templates
        _staff_visits(base, 1)  # a fresh server's first visit pays the imports (reported by dashboard_bench)
        result["staff_alone"] = _staff_visits(base, args.staff_runs)
        cpu0, t0 = _server_cpu(port), time.perf_counter()
        stop, threads, out = _public_load(base, targets, args.visitors, args.think)
        time.sleep(args.seconds)
        cpu1, t1 = _server_cpu(port), time.perf_counter()
        pages = sum(len(v) for k, v in out.items() if k != "errors")
        result["public_alone"] = {"pages": pages, "pages_per_s": pages / (t1 - t0),
                                  "cpu_ms_per_page": (cpu1 - cpu0) / max(pages, 1) * 1000,
                                  "server_cpu_share": (cpu1 - cpu0) / (t1 - t0),
                                  **{k: _quantiles(v) for k, v in out.items() if k != "errors"},
                                  "errors": len(out.get("errors", []))}
        result["staff_under_load"] = _staff_visits(base, args.staff_runs)
        stop.set()
        for thread in threads:
            thread.join(timeout=90)
        result["public_total_errors"] = len(out.get("errors", []))
        result["public_error_examples"] = out.get("errors", [])[:5]
    shutil.rmtree(folder, ignore_errors=True)
    result["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load " + \
        " ".join(f"{x:.1f}" for x in os.getloadavg())
    result["commit"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                      capture_output=True, text=True).stdout.strip()
    return result


def markdown(r: dict) -> str:
    p = r["public_alone"]
    staff = lambda xs: f"{statistics.median(xs):.2f} s ({min(xs):.2f}–{max(xs):.2f})"  # noqa: E731
    return "\n".join([
        "| figure | target | measured |",
        "|---|---|---|",
        f"| supervisor page interactive, alone | < 4 s | **{staff(r['staff_alone'])}** |",
        f"| supervisor page interactive, {r['visitors']} public visitors at once | < 4 s | "
        f"**{staff(r['staff_under_load'])}** |",
        f"| public pages served ({r['seconds']} s, think {r['think']} s) | | {p['pages']} ({p['pages_per_s']:.1f}/s), "
        f"{r['public_total_errors']} errors |",
        f"| shop page p50 / p95 | | {p.get('shop', '—')} |",
        f"| order placed p50 / p95 | | {p.get('order', '—')} |",
        f"| tracking page p50 / p95 | | {p.get('tracking', '—')} |",
        f"| grid page p50 / p95 | | {p.get('grid', '—')} |",
        f"| server CPU per public page (mean over the mix) | | {p['cpu_ms_per_page']:.1f} ms |",
        f"| server CPU used by the public load | | {p['server_cpu_share'] * 100:.0f} % of one core |",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--think", type=float, default=2.0, help="mean pause between a visitor's pages")
    parser.add_argument("--staff-runs", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    if args.markdown:
        print(markdown(result))


if __name__ == "__main__":
    main()
