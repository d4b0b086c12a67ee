"""The closing guard: a register that would close many shops is refused unless confirmed.

A shop register is read as the whole list, so shops it leaves out are closed.
A file holding only the month's new shops would then close every other shop.
The guard refuses a run that would close more than a tenth of the open shops
(and more than five), naming the count and the two ways on: ``--partial`` (add
and update only) or ``--close-missing`` (confirm the closing).
"""

from __future__ import annotations

#: Share of the open shops a run may close without confirmation.
CLOSE_SHARE = 0.1
#: A run closing this many shops or fewer is never refused.
CLOSE_FEW = 5


def closing_refusal(closing: int, open_shops: int) -> str | None:
    """Why a run closing ``closing`` of ``open_shops`` open shops is refused, or None when it may go on.

    >>> closing_refusal(2, 20) is None
    True
    >>> closing_refusal(2070, 2100).startswith("文件未列出 2070 家")
    True
    """
    if closing <= CLOSE_FEW or closing <= CLOSE_SHARE * open_shops:
        return None
    return (
        f"文件未列出 {closing} 家在营商铺（共 {open_shops} 家，超过十分之一），按整本名册导入会将其全部关闭；"
        f"只新增和更新请加 --partial，确认关闭请加 --close-missing / "
        f"the file leaves out {closing} of the {open_shops} open shops (more than a tenth); read as the "
        f"whole register it would close them all: add --partial to add and update only, or "
        f"--close-missing to confirm the closing"
    )


__all__ = ["CLOSE_FEW", "CLOSE_SHARE", "closing_refusal"]
