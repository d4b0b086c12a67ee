"""``linpu public forget-phones``: what the public pages' privacy notice promises, run from cron."""

from __future__ import annotations

import click

from governance.db import transaction
from governance.public_requests import forget_phones
from governance.settings import get_settings
from pipelines.commands.common import LinpuGroup, open_current_database


@click.group("public", cls=LinpuGroup)
def public() -> None:
    """The public side: orders and complaints placed without an account."""


@public.command("forget-phones")
def public_forget_phones():
    """Delete the phone of every public request closed more than LINPU_PUBLIC_KEEP_DAYS ago."""
    with transaction(open_current_database()) as session:
        count = forget_phones(session)
    click.echo(f"{count} phone numbers deleted (requests closed over {get_settings().public_keep_days} days ago)")
