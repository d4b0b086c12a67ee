"""The demo's people: grid leaders, supervisors, the analyst, the admin and the grid members."""

from __future__ import annotations

import numpy as np

from governance.catalog import MemberRole, Role

_SURNAMES = ("陈", "林", "黄", "王", "李", "张", "吴", "蔡", "郑", "庄", "许", "洪", "郭", "苏",
             "施", "曾", "刘", "杨", "何", "傅", "柯", "连", "骆", "潘")
_GIVEN = ("志明", "建华", "丽娟", "秀英", "国强", "淑芬", "海燕", "伟东", "雅婷", "俊杰", "晓峰", "美玲",
          "文彬", "宏伟", "少华", "丽珍", "振发", "金水", "惠敏", "家豪", "思远", "艺芳", "明辉", "春燕",
          "清泉", "宝珠", "荣华", "德胜", "秋菊", "添福", "阿香", "佳琪", "子涵", "双喜", "玉兰", "福生")


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    combos = len(_SURNAMES) * len(_GIVEN)
    picks = rng.choice(combos, size=n, replace=False)
    return [_SURNAMES[p // len(_GIVEN)] + _GIVEN[p % len(_GIVEN)] for p in picks]


def build_people(rng: np.random.Generator, n_leaders: int) -> tuple[list[dict], list[dict]]:
    names = iter(person_names(rng, n_leaders * 4 + 3))
    width = max(2, len(str(n_leaders)))
    users = [
        {"username": f"leader{k:0{width}d}", "display_name": next(names), "role": Role.GRID_LEADER.value,
         "grid_index": str(k)}
        for k in range(1, n_leaders + 1)
    ]
    users += [
        {"username": f"supervisor{k}", "display_name": next(names), "role": Role.SUPERVISOR.value,
         "grid_index": ""}
        for k in (1, 2)
    ]
    users.append({"username": "analyst1", "display_name": next(names), "role": Role.ANALYST.value,
                  "grid_index": ""})
    users.append({"username": "admin", "display_name": "系统管理员", "role": Role.ADMIN.value, "grid_index": ""})
    member_roles = (MemberRole.PROPERTY, MemberRole.SECURITY, MemberRole.FIRE)
    members = [
        {"grid_index": str(k), "member_role": role.value, "name": next(names),
         "phone": f"138-0000-{(k - 1) * len(member_roles) + j + 1:04d}"}
        for k in range(1, n_leaders + 1)
        for j, role in enumerate(member_roles)
    ]
    return users, members

