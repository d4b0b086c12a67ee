"""Phone numbers as a viewer may see them: in full for the admin, masked (138****1234) for everyone else.

Personal data shows only where the viewer needs it: the office clerk (admin)
keeps the register and the team, so sees the numbers; a supervisor, analyst
or grid leader sees that a number exists and its last four digits, enough to
tell two apart.  Every read that returns a shop's or a team member's phone
passes it through :func:`phone_for` (``queries.open_shops``, ``queries.grid_team``).
"""

from __future__ import annotations

import re

from governance.catalog import Role
from governance.viewer import Viewer

_DIGIT = re.compile(r"\d")


def mask_phone(phone: str | None) -> str:
    """``phone`` with its digits but the first three and last four hidden; "" for none.

    Separators are dropped; a number of seven digits or fewer keeps only its last two.

    Examples
    --------
    >>> mask_phone("13812341234"), mask_phone("138-1234-1234"), mask_phone("0595-22345678")
    ('138****1234', '138****1234', '059*****5678')
    >>> mask_phone("12345"), mask_phone(None), mask_phone("")
    ('***45', '', '')
    """
    # A missing value may come as None or, from a frame, as NaN.
    phone = phone if isinstance(phone, str) else ""
    digits = "".join(_DIGIT.findall(phone))
    if not digits:
        return "****" if phone.strip() else ""
    if len(digits) <= 7:
        return "*" * (len(digits) - 2) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def phone_for(viewer: Viewer, phone: str | None) -> str:
    """The phone as ``viewer`` may see it: in full for an admin, else masked."""
    if viewer.role == Role.ADMIN:
        return phone if isinstance(phone, str) else ""
    return mask_phone(phone)
