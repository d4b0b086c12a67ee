"""The demo's organisation tree (issue 21) and the two branch secretaries.

Street committee ▸ the district's party committee ▸ two branches; the grids
are split between the branches by code (the first half of the codes, in the
map's reading order north to south, to the first branch).  The codes are the
gridding's own (``G001`` …, one per leader), which the load checks against
the grids it builds.  Party-member shops are linked to their branch by the
load, which is where a shop's grid is first known.
"""

from __future__ import annotations

import numpy as np

from governance.catalog import OrgLevel, Role

ORG_COLUMNS = ("node_id", "parent_id", "level", "name", "grids", "shops")
STREET_NODE = "shanyao"
DISTRICT_NODE = "yongjia"
BRANCH_NODES = ("yongjia-1", "yongjia-2")
SECRETARIES = ("secretary1", "secretary2")
_SECRETARY_NAMES = ("郑秀琴", "骆建平", "庄碧霞", "柯明德")


def grid_codes(n_grids: int) -> list[str]:
    """The codes the gridding gives ``n_grids`` grids (``geo.grid_codes``: ``G`` and three digits or more)."""
    width = max(3, len(str(n_grids)))
    return [f"G{k:0{width}d}" for k in range(1, n_grids + 1)]


def build_org(seed: int, n_grids: int, taken_names: set[str]) -> tuple[list[dict], list[dict]]:
    """The tree's rows (the ``linpu org import`` format) and the secretaries' account rows.

    Draws from a generator of its own, so the rest of the demo keeps its draws.
    """
    rng = np.random.default_rng([seed, 21])
    codes = grid_codes(n_grids)
    half = (n_grids + 1) // 2
    rows = [
        {"node_id": STREET_NODE, "parent_id": "", "level": OrgLevel.STREET_COMMITTEE.value,
         "name": "山腰街道党工委", "grids": "", "shops": ""},
        {"node_id": DISTRICT_NODE, "parent_id": STREET_NODE, "level": OrgLevel.DISTRICT_COMMITTEE.value,
         "name": "永嘉国潮街区党委", "grids": "", "shops": ""},
    ]
    for node, name, part in zip(BRANCH_NODES, ("永嘉国潮街区第一党支部", "永嘉国潮街区第二党支部"),
                                (codes[:half], codes[half:]), strict=True):
        rows.append({"node_id": node, "parent_id": DISTRICT_NODE, "level": OrgLevel.BRANCH.value, "name": name,
                     "grids": ";".join(part), "shops": ""})
    free = [n for n in _SECRETARY_NAMES if n not in taken_names]
    names = [free[i] for i in rng.permutation(len(free))[: len(SECRETARIES)]]
    users = [{"username": user, "display_name": name, "role": Role.SUPERVISOR.value, "grid_index": "", "scope": node}
             for user, name, node in zip(SECRETARIES, names, BRANCH_NODES, strict=True)]
    return rows, users
