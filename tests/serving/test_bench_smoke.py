"""The serving benchmarks still run (tiny sizes; their figures are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def _bench(script: str, *args: str, timeout: float = 300) -> str:
    """Run ``benchmarks/<script>`` with ``args``; its stdout, after checking it exited 0."""
    done = subprocess.run([sys.executable, f"benchmarks/{script}", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_serving_benchmark_runs_and_prints_its_figures() -> None:
    out = _bench("serving_bench.py", "--items", "300", "--users", "20", "--seen", "5", "--requests", "50",
                 "--port", "0", timeout=120)
    assert "recommend() in process" in out and "HTTP GET" in out


def test_contention_benchmark_runs_and_prints_its_figures() -> None:
    out = _bench("contention_bench.py", "--threads", "1", "--tick-users", "10", "--tick-content", "10",
                 "--requests", "50")
    assert "ticks running back to back" in out and "tick p50" in out


def test_tick_benchmark_runs_and_prints_its_figures() -> None:
    out = _bench("tick_bench.py", "--users", "5", "--trending", "10", "--repeat", "1")
    assert "refresh()" in out and "seen lists" in out
