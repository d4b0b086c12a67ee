"""The demo's after photos (issue 19): every resolved safety case shows its fix or says why it cannot.

Resolving an electricity, gas, fire-exit or ride case needs an "after" photo
or a stated reason (``governance.photos``).  Most resolve steps of such cases
carry a photo (the load draws a small PNG for it); the rest a reason, kept
as the workflow keeps it, in the resolve row's details.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from governance.catalog import SAFETY_CATEGORIES
from pipelines.demo_loop import Case

PHOTO_SHARE = 0.85
NO_PHOTO_REASONS = (
    "整改为更换内部线路，外观无变化，照片无法体现",
    "隐患部位在吊顶内，无法拍摄，已由商户签字确认",
    "现场手机没电，已请物业补拍存档",
)


def plan_after_evidence(seed: int, cases: Sequence[Case]) -> None:
    """Give each resolve step of a safety case (numbered) an after photo's file name or a reason.

    Draws from a generator of its own, so the rest of the demo keeps its draws.
    """
    rng = np.random.default_rng([seed, 1919])
    for case in cases:
        if case.category not in SAFETY_CATEGORIES:
            continue
        for seq, event in enumerate(case.history, start=1):
            if event[4] != "resolve":
                continue
            if rng.random() < PHOTO_SHARE:
                case.evidence[seq] = ("photo", f"after-{case.case_id}-{seq}.png")
            else:
                case.evidence[seq] = ("reason", NO_PHOTO_REASONS[rng.integers(len(NO_PHOTO_REASONS))])
