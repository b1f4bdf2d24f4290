"""Every benchmark script in bench/ starts: its module-level code runs and `--help` exits 0.

The benchmarks are run by hand, rarely; a script that no longer starts (a renamed setting, a name left undefined
by an edit) would otherwise be found only by the next person who needs its numbers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_there_are_benchmark_scripts():
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_script_starts(script: Path):
    run = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120,
                         cwd=BENCH.parent)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage:" in run.stdout
