"""`python -m pipelines` runs the `linpu` command (as the console script does)."""

from pipelines.commands.root import main

main(prog_name="linpu")
