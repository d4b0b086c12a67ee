"""How well the duplicate check finds planted duplicates, and how often what it shows is one.

The bench makes its own data (the demo generator is not touched): the small
two-grid district of ``governance.testing`` (2 km × 1 km), shops at random
points, and a stream of *problems* over ``--days`` days.  A problem is a
shop, a category and a lifetime; it is reported once, and with probability
``--dup-share`` once or twice more while it is open (the *planted
duplicates*), each report at the shop with phone-GPS noise (``--gps-m``,
normal per axis).  When a problem's lifetime ends, its cases are closed.

Every report is filed the way the leader's page files it: the candidates are
read first (:func:`governance.duplicates.duplicate_candidates`); when the
nearest one is the same problem the finding is added to it
(``add_finding``), else a new case is raised.

Reported, per radius (``LINPU_DUPLICATE_RADIUS_M``):

- *suggested*: the share of planted duplicates whose open case was among the
  candidates shown;
- *precision (first)*: of the reports shown any candidate, the share whose
  first (nearest) candidate was the same problem;
- *precision (all)*: of all candidates shown, the share that were the same problem;
- the median time of one candidate read.

Run: ``python bench/duplicates_bench.py [--problems 400] [--seed 7]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from governance.catalog import Category  # noqa: E402
from governance.db import make_engine, transaction  # noqa: E402
from governance.duplicates import add_finding, duplicate_candidates  # noqa: E402
from governance.migrate import upgrade  # noqa: E402
from governance.models import Case  # noqa: E402
from governance.settings import Settings  # noqa: E402
from governance.testing import G001_BOX, G002_BOX, seed_small_district  # noqa: E402
from governance.workflow import file_case, transition  # noqa: E402

START = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
#: Metres per degree at the district's latitude (25.1° N), for the GPS noise only.
M_PER_DEG_LAT, M_PER_DEG_LON = 110_900.0, 100_800.0


@dataclass(frozen=True)
class Report:
    at: datetime
    problem: int
    lon: float
    lat: float
    category: str
    planted: bool  # a second or third report of an open problem


def plan(n_problems: int, n_shops: int, *, days: int, dup_share: float, gps_m: float, seed: int):
    """Shops, the reports in time order and each problem's closing time."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = G001_BOX[0], G001_BOX[1], G002_BOX[2], G002_BOX[3]
    # A margin keeps noisy points inside the two grids.
    shops = np.column_stack([rng.uniform(x0 + 0.001, x1 - 0.001, n_shops), rng.uniform(y0 + 0.001, y1 - 0.001, n_shops)])
    categories = [c.value for c in Category]
    reports, closing = [], {}
    for problem in range(n_problems):
        shop = shops[rng.integers(n_shops)]
        category = str(rng.choice(categories))
        born = START + timedelta(hours=float(rng.uniform(0, days * 24)))
        life = timedelta(hours=float(rng.exponential(5 * 24)) + 2)
        closing[problem] = born + life
        times = [born]
        if rng.random() < dup_share:
            extra = 1 + int(rng.random() < 0.3)
            times += sorted(born + life * float(f) for f in rng.uniform(0.05, 0.95, extra))
        for i, at in enumerate(times):
            noise = rng.normal(0, gps_m, 2)
            reports.append(Report(at, problem, shop[0] + noise[0] / M_PER_DEG_LON, shop[1] + noise[1] / M_PER_DEG_LAT,
                                  category, planted=i > 0))
    reports.sort(key=lambda r: r.at)
    return reports, closing


def run(radius_m: float, reports: list[Report], closing: dict[int, datetime], tmp: Path) -> dict:
    # Long: one simulated stream, filing and closing in time order, with the counts kept inline.
    engine = make_engine(f"sqlite:///{tmp / f'dup-{radius_m:g}.sqlite3'}")
    upgrade(engine)
    district = seed_small_district(engine, now=START - timedelta(days=30))
    supervisor = district.viewer(engine, "supervisor")
    settings = Settings(duplicate_radius_m=radius_m)
    problem_of: dict[int, int] = {}  # case id -> problem
    open_cases: dict[int, list[int]] = {}  # problem -> its open case ids
    closings = sorted(closing.items(), key=lambda kv: kv[1])
    planted = suggested = shown_reports = first_right = shown = right = 0
    reads = []
    for report in reports:
        while closings and closings[0][1] <= report.at:
            problem, at = closings.pop(0)
            for case_id in open_cases.pop(problem, []):
                with transaction(engine) as session:
                    version = session.get(Case, case_id).version
                    transition(session, supervisor, case_id, "dismiss", expected_version=version,
                               note="bench: problem gone", now=at)
        with transaction(engine) as session:
            started = time.perf_counter()
            near = duplicate_candidates(session, supervisor, category=report.category, lon=report.lon,
                                        lat=report.lat, now=report.at, settings=settings)
            reads.append(time.perf_counter() - started)
            problems = [problem_of[int(c)] for c in near["case_id"]]
            if report.planted and report.problem in open_cases:
                planted += 1
                suggested += report.problem in problems
            if problems:
                shown_reports += 1
                first_right += problems[0] == report.problem
                shown += len(problems)
                right += sum(p == report.problem for p in problems)
            if problems and problems[0] == report.problem:
                add_finding(session, supervisor, int(near["case_id"].iloc[0]),
                            expected_version=int(near["version"].iloc[0]), note="bench: seen again", now=report.at)
                continue
            case = file_case(session, supervisor, kind="patrol", category=report.category, severity="medium",
                             title=f"bench problem {report.problem}", lon=report.lon, lat=report.lat, now=report.at)
            problem_of[case.id] = report.problem
            open_cases.setdefault(report.problem, []).append(case.id)
    with transaction(engine) as session:
        n_cases = len(session.scalars(select(Case.id)).all())
    engine.dispose()
    return {
        "radius_m": radius_m, "planted": planted, "suggested": suggested / planted if planted else float("nan"),
        "precision_first": first_right / shown_reports if shown_reports else float("nan"),
        "precision_all": right / shown if shown else float("nan"), "reports_shown": shown_reports,
        "cases": n_cases, "read_ms": 1000 * statistics.median(reads),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=400)
    parser.add_argument("--shops", type=int, default=300)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--dup-share", type=float, default=0.35)
    parser.add_argument("--gps-m", type=float, default=10.0)
    parser.add_argument("--radii", default="25,50,100")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    reports, closing = plan(args.problems, args.shops, days=args.days, dup_share=args.dup_share,
                            gps_m=args.gps_m, seed=args.seed)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    print(f"# {platform.node()} · {platform.processor() or platform.machine()} · commit {commit} · "
          f"{len(reports)} reports of {args.problems} problems at {args.shops} shops over {args.days} days, "
          f"GPS noise {args.gps_m:g} m, seed {args.seed}")
    print("| radius | planted duplicates | suggested | precision (first) | precision (all) | reports shown one "
          "| cases raised | read (median) |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for radius in (float(r) for r in args.radii.split(",")):
            r = run(radius, reports, closing, Path(tmp))
            print(f"| {radius:g} m | {r['planted']} | {r['suggested']:.1%} | {r['precision_first']:.1%} "
                  f"| {r['precision_all']:.1%} | {r['reports_shown']} | {r['cases']} | {r['read_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
