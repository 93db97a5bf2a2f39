"""A partner's test suite, run by pytest in a fresh process with nothing but the installed
plugin (no options of ours), as a partner runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def assert_partner_suite_passes(directory: Path, files: dict[str, str], *, passed: int) -> None:
    """Write ``files`` into ``directory``, run pytest there; every test passes, ``passed`` of
    them."""
    for name, text in files.items():
        (directory / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"{passed} passed" in ran.stdout, ran.stdout
