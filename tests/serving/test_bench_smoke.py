"""The serving benchmarks still run (tiny sizes; their figures are printed, never asserted)."""

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


def test_contention_benchmark_runs_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/contention_bench.py", "--threads", "1", "--tick-users", "10",
         "--tick-content", "10", "--requests", "50"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ticks running back to back" in done.stdout and "tick p50" in done.stdout


def test_tick_benchmark_runs_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/tick_bench.py", "--users", "5", "--trending", "10", "--repeat", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refresh()" in done.stdout and "seen lists" in done.stdout
