"""The ``linpu`` command: every job the dashboard can do, scriptable.

The root group names each command group here, and nothing registers itself by
being imported.  Exit codes: 0 done, 1 input rejected, 2 usage or
configuration error (see ``pipelines.commands.common``).
"""

from __future__ import annotations

import sys

import click

from pipelines.commands.boards import boards
from pipelines.commands.calendar import calendar
from pipelines.commands.common import LinpuGroup
from pipelines.commands.db import db
from pipelines.commands.demo import demo
from pipelines.commands.departments import departments
from pipelines.commands.district import district
from pipelines.commands.export import export
from pipelines.commands.grids import grids
from pipelines.commands.ingest import ingest
from pipelines.commands.members import members
from pipelines.commands.notify import notify
from pipelines.commands.office import schedules, status_command
from pipelines.commands.org import org
from pipelines.commands.public import public
from pipelines.commands.users import users


@click.group(cls=LinpuGroup, commands=[boards, calendar, db, demo, departments, district, export, grids, ingest, members,
                                       notify, org, public, schedules, status_command, users],
             context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Linpu: ~10-shop governance grids and the closed loop of every case."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
