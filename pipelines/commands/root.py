"""The ``linpu`` command: every job the dashboard can do, scriptable.

The root group names each command group here (loaded at its first use), and
nothing registers itself by being imported.  Exit codes: 0 done, 1 input rejected, 2 usage or
configuration error (see ``pipelines.commands.common``).
"""

from __future__ import annotations

import importlib
import sys

import click

from pipelines.commands.common import LinpuGroup

#: Each command and where it lives, loaded only when asked for: a command's own imports
#: (esda for the export, Pillow for the boards, geopandas for the grids) cost about two
#: seconds all together, which every other command would otherwise pay at start.
COMMANDS = {
    "boards": "pipelines.commands.boards:boards",
    "calendar": "pipelines.commands.calendar:calendar",
    "db": "pipelines.commands.db:db",
    "demo": "pipelines.commands.demo:demo",
    "departments": "pipelines.commands.departments:departments",
    "district": "pipelines.commands.district:district",
    "export": "pipelines.commands.export:export",
    "grids": "pipelines.commands.grids:grids",
    "ingest": "pipelines.commands.ingest:ingest",
    "members": "pipelines.commands.members:members",
    "notify": "pipelines.commands.notify:notify",
    "org": "pipelines.commands.org:org",
    "public": "pipelines.commands.public:public",
    "schedules": "pipelines.commands.office:schedules",
    "status": "pipelines.commands.office:status_command",
    "users": "pipelines.commands.users:users",
}


class RootGroup(LinpuGroup):
    """The root group, loading each command's module at its first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Linpu: ~10-shop governance grids and the closed loop of every case."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
