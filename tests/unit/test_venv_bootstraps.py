"""Every command that makes its own environment (`ensure_venv LOCK ...`) names a lock that exists.

Regression: `benchmarks/run` called `ensure_venv ''` and so failed on a fresh clone ("Could not
open requirements file") until a test run had made `.venv` for it.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CALL = re.compile(r"\bensure_venv\s+(?P<lock>'[^']*'|\"[^\"]*\"|[^\s;\"'&|)]+)")
BOOTSTRAPPING = [ROOT / "benchmarks" / "run", *sorted((ROOT / "scripts").iterdir())]


def locks_in(name: str, text: str) -> list[tuple[str, str]]:
    found = []
    for line in text.splitlines():
        if line.lstrip().startswith("#") or "ensure_venv()" in line:
            continue
        for match in CALL.finditer(line):
            found.append((name, match["lock"].strip("'\"")))
    return found


def locks_named() -> list[tuple[str, str]]:
    return [found for path in BOOTSTRAPPING for found in locks_in(path.name, path.read_text())]


def missing(named: list[tuple[str, str]]) -> list[str]:
    return [
        f"{script}: ensure_venv {lock!r} names no lock file"
        for script, lock in named
        if not lock.startswith("$") and not (ROOT / lock).is_file()  # $X: set and checked there
    ]


def test_every_ensure_venv_call_names_a_lock_file_that_exists() -> None:
    named = locks_named()
    assert ("run", "requirements/runtime.txt") in named  # benchmarks/run is seen
    assert ("serve", "requirements/runtime.txt") in named
    assert missing(named) == []


def test_the_check_sees_an_empty_or_misspelt_lock() -> None:
    was = '["bash", "-c", "source scripts/_venv.sh && ensure_venv \'\'"], cwd=ROOT, check=True'
    assert missing(locks_in("run", was)) == ["run: ensure_venv '' names no lock file"]
    assert missing(locks_in("serve", "ensure_venv requirements/runtim.txt")) != []
