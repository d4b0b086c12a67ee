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
