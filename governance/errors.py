"""Domain exceptions: each message says what was found and what is allowed."""

from __future__ import annotations


class LinpuError(Exception):
    """Base of every error a user can act on; the CLI prints its message alone."""


class ConfigurationError(LinpuError):
    """A ``LINPU_*`` setting is malformed or points at something unreachable."""


class NotFoundError(LinpuError):
    """A referenced record (case, grid, shop, user) does not exist."""


class PermissionDenied(LinpuError):
    """The acting user's role or grid scope does not allow the action."""


class OutsideDuty(PermissionDenied):
    """A member acting outside its kind's categories: ``kind``, ``category`` and ``allowed`` (codes)
    let a page say it in its own language."""

    def __init__(self, message: str, *, kind: str, category: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.kind = kind
        self.category = category
        self.allowed = allowed


class ValidationError(LinpuError):
    """A bad input value; the message names the field, the value and what is allowed."""


class IllegalTransition(LinpuError):
    """An action that the case's current state (or kind) does not allow."""


class VersionConflict(LinpuError):
    """The case changed since the caller read it; reload and decide again."""


class OutsideGrids(ValidationError):
    """A point in no current grid; the message gives the distance to the nearest one."""


class AttachmentError(ValidationError):
    """An attachment that is too large or not a JPEG, PNG or WebP image; ``name`` is its file name."""

    def __init__(self, message: str, *, name: str = "") -> None:
        super().__init__(message)
        self.name = name


class PublicRefusal(ValidationError):
    """A public order refused (limit reached, bad field): ``key`` names the words the public page shows."""

    def __init__(self, message: str, *, key: str, **values: object) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


class DatabaseBusy(LinpuError):
    """Other writers held the database past the wait; nothing was saved, the user may retry."""


#: What is said of text holding U+0000 (PostgreSQL cannot store it), after the field's name.
NUL_REFUSAL = "contains a NUL character (\\x00), which cannot be stored; remove it"
