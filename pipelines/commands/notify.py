"""``linpu notify add|list|remove|run``: the webhooks told of changes, and the sender."""

from __future__ import annotations

import click

from governance.outbox import AUDIENCES, MEMBER_KINDS
from pipelines.commands.common import LinpuGroup, echo_json, open_current_database
from pipelines.notify import run_forever, run_pass
from pipelines.notify_format import FORMATS, LANGUAGES
from pipelines.notify_hooks import add_webhook, list_webhooks, outbox_counts, remove_webhook


@click.group("notify", cls=LinpuGroup)
def notify() -> None:
    """Notifications to WeCom / DingTalk group robots and JSON receivers."""


@notify.command("add")
@click.option("--url", required=True, help="The robot's webhook address.")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS))
@click.option("--grid", "grid_code", default=None, help="Only notices of this grid (its code).")
@click.option("--role", default=None, type=click.Choice(AUDIENCES), help="Only notices meant for this role.")
@click.option("--member-kind", default=None, type=click.Choice(MEMBER_KINDS),
              help="Only notices for this kind of team member.")
@click.option("--language", default="zh", show_default=True, type=click.Choice(LANGUAGES))
def notify_add(url, fmt, grid_code, role, member_kind, language):
    """Register a webhook; it receives notifications written from now on."""
    hook_id = add_webhook(open_current_database(), url=url, fmt=fmt, grid_code=grid_code, role=role,
                          member_kind=member_kind, language=language)
    click.echo(f"webhook {hook_id} added ({fmt}, {language})")


@notify.command("list")
@click.option("--json", "as_json", is_flag=True)
def notify_list(as_json):
    """Every webhook (keys masked) with its delivered and pending counts."""
    engine = open_current_database(announce=not as_json)
    rows = list_webhooks(engine)
    if as_json:
        echo_json({"webhooks": [r.as_dict() for r in rows], "outbox": outbox_counts(engine)})
        return
    for r in rows:
        scope = " ".join(f"{k}={v}" for k, v in (("grid", r.grid_code), ("role", r.role),
                                                  ("member-kind", r.member_kind)) if v) or "everything"
        error = f"\tlast error: {r.last_error}" if r.last_error else ""
        click.echo(f"{r.id}\t{r.format}\t{r.language}\t{r.url}\t{scope}\tdelivered {r.delivered}\t"
                   f"pending {r.pending}{error}")
    click.echo(f"{len(rows)} webhooks")


@notify.command("remove")
@click.argument("webhook_id", type=int)
def notify_remove(webhook_id):
    """Remove a webhook and its deliveries."""
    remove_webhook(open_current_database(), webhook_id)
    click.echo(f"webhook {webhook_id} removed")


@notify.command("run")
@click.option("--once", is_flag=True, help="One pass, then exit (for cron).")
def notify_run(once):
    """Deliver notifications: scan the clock, fan out, send, retry with backoff."""
    engine = open_current_database()

    def show(report) -> None:
        for error in report.errors:
            click.echo(f"retry later: {error}", err=True)
        if report.fanned_out or report.delivered or report.failed:
            click.echo(report.summary())

    if once:
        show(run_pass(engine))
        return
    try:
        run_forever(engine, on_pass=show)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
