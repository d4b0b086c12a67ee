"""``linpu demo generate|load``: the bundled synthetic demo district."""

from __future__ import annotations

from pathlib import Path

import click

from governance.migrate import upgrade
from pipelines.commands.common import LinpuGroup, open_database
from pipelines.demo_generate import generate_demo
from pipelines.demo_load import DEMO_DIR, load_demo


@click.group("demo", cls=LinpuGroup)
def demo() -> None:
    """The bundled synthetic demo district."""


@demo.command("generate")
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write; default the bundled data/demo.",
)
def demo_generate(seed: int, out: Path | None) -> None:
    """Write the synthetic demo district (same seed, same bytes)."""
    counts = generate_demo(out or DEMO_DIR, seed=seed)
    click.echo(f"wrote {out or DEMO_DIR}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@demo.command("load")
def demo_load() -> None:
    """Upgrade the schema and load the demo district, unless it is there already."""
    engine = open_database()
    upgrade(engine)
    click.echo(load_demo(engine).summary())
