"""The serving benchmark still runs (tiny sizes; its figures are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_serving_benchmark_runs_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/serving_bench.py", "--items", "300", "--users", "20", "--seen", "5",
         "--requests", "50", "--port", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "recommend() in process" in done.stdout and "HTTP GET" in done.stdout
