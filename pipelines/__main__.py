"""`python -m pipelines` runs the `linpu` command (as the console script does)."""

from pipelines.commands.root import main

# Guarded: Dask's worker processes are spawned and import the parent's main
# module, which must not run the command again in each of them.
if __name__ == "__main__":
    main(prog_name="linpu")
