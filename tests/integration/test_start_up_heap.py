"""What start-up builds is left out of later garbage collections (BENCHMARKS.md, "Fair turns for
the pool"): with it in, each full collection under load stopped every request in flight for
about 80 ms. Run in a fresh interpreter, so no other test's app has frozen anything first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import TEST_SECRET_KEY

PROGRAM = r"""
import asyncio, gc, json, sys
from imprint_sessions.app import create_app
from imprint_sessions.config import Settings

async def main():
    settings = Settings(env="sandbox", data_dir=sys.argv[1], database_url=sys.argv[2],
                        secret_key=sys.argv[3])
    before = gc.get_freeze_count()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        started = gc.get_freeze_count()
    print(json.dumps({"before": before, "started": started}))

asyncio.run(main())
"""


def test_start_up_objects_are_frozen_when_the_app_starts(
    tmp_path: Path, sqlite_template: Path
) -> None:
    database = tmp_path / "imprint.sqlite3"
    database.write_bytes(sqlite_template.read_bytes())
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path), f"sqlite:///{database}", TEST_SECRET_KEY],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["before"] == 0
    # Modules, models, schemas and compiled statements: tens of thousands of objects.
    assert counts["started"] > 20_000
