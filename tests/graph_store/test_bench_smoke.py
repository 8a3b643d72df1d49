"""The graph_store benchmark runs end to end on a small graph (figures are not checked here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "graph_store_bench.py"


def test_benchmark_quick_mode_prints_the_table() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--edges", "60000", "--batch", "20000"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["metric", "measured"]
    assert any(line.startswith("append, batches of <= 20,000") for line in lines)
    assert any(line.startswith("snapshot restore") for line in lines)
    assert any(line.startswith("edges stored (all types)") and "60,000" in line for line in lines)
