"""The supervisor's deck JSON on the demo, for proving a refactoring changed nothing a user sees.

Loads ``data/demo`` into a fresh SQLite file (the demo's clock shift puts its
cases at the same distance from now on every run), builds the supervisor's
map deck in English and Chinese with every layer on, writes each JSON to
``PREFIX.en.json`` / ``PREFIX.zh.json`` and prints its sha256.  Run it before
and after a change; equal hashes mean the same map, byte for byte.

    .venv/bin/python -m bench.deck_snapshot /tmp/deck-before
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="where to write PREFIX.en.json and PREFIX.zh.json")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="linpu-deck-"))
    os.environ["LINPU_DATABASE_URL"] = f"sqlite:///{folder / 'demo.sqlite3'}"
    os.environ["LINPU_VAR_DIR"] = str(folder)
    # Late: the settings above must be in the environment before the app's modules read them.
    from dashboard import data
    from governance.db import make_engine
    from governance.filters import CaseFilter
    from governance.migrate import upgrade
    from governance.permissions import system_viewer
    from pipelines.demo_load import load_demo

    engine = make_engine(os.environ["LINPU_DATABASE_URL"])
    upgrade(engine)
    load_demo(engine)
    viewer = system_viewer()
    for language in ("en", "zh"):
        deck = data.supervisor_map(viewer, data.viewer_key(viewer), CaseFilter(), data.epoch(), 5,
                                   with_cases=True, show_heat=True, show_hotspots=True,
                                   selected_code=None, language=language).to_json()
        Path(f"{args.prefix}.{language}.json").write_text(deck)
        print(language, hashlib.sha256(deck.encode()).hexdigest(), f"{len(deck):,} bytes")


if __name__ == "__main__":
    main()
