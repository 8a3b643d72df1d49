"""Benchmark of graph_store against the issue-4 targets.

Builds a synthetic catalog (created_by, has_tag, similar_to) and a week of skewed interactions
(watched, liked, shared; a few percent of them late) and prints append throughput, bytes per
edge, 2-hop sampling latency and snapshot timings next to the targets.

    python benchmarks/graph_store_bench.py [--edges 10000000] [--quick] [--batch 200000]
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph_store import GraphStore, sample  # noqa: E402
from graph_store.schema import (  # noqa: E402
    CONTENT, CREATED_BY, CREATOR, HAS_TAG, LIKED, SHARED, SIMILAR_TO, TAG, USER, WATCHED, reverse,
)

DAY_MS = 86_400_000
T0 = 1_700_000_000_000


def _skewed(rng: np.random.Generator, n_items: int, size: int, alpha: float) -> np.ndarray:
    """Ids in [0, n_items) with P(rank < x) = (x / n) ** (1 / alpha): alpha 1 is uniform,
    larger alpha puts more mass on a popular head. Ranks are shuffled over the ids."""
    ranks = (n_items * rng.random(size) ** alpha).astype(np.int64)
    return rng.permutation(n_items)[ranks]


def make_data(n_edges: int, batch: int, seed: int, item_skew: float = 3.0) -> dict:
    """Synthetic graph: node counts and per-type batches of (src, dst, ts, attr)."""
    rng = np.random.default_rng(seed)
    n_content = max(n_edges // 200, 100)
    n_user = max(n_edges // 100, 100)
    n_creator, n_tag = max(n_content // 10, 10), 2000
    catalog = {
        CREATED_BY: (np.arange(n_content), rng.integers(0, n_creator, n_content)),
        HAS_TAG: (np.repeat(np.arange(n_content), 5), _skewed(rng, n_tag, 5 * n_content, 2.0)),
        SIMILAR_TO: (np.repeat(np.arange(n_content), 20), _skewed(rng, n_content, 20 * n_content, 2.0)),
    }
    n_inter = max(n_edges - sum(len(s) for s, _ in catalog.values()), 0)
    batches = []
    for et, (s, d) in catalog.items():
        ts = T0 + rng.integers(0, DAY_MS, len(s))
        attr = rng.random(len(s)).astype(np.float32) if et == SIMILAR_TO else None
        batches.append((et, s, d, ts, attr))
    kinds = rng.choice(3, n_inter, p=[0.7, 0.2, 0.1])
    users = _skewed(rng, n_user, n_inter, 1.5)
    items = _skewed(rng, n_content, n_inter, item_skew)
    ts = T0 + DAY_MS + np.sort(rng.integers(0, 7 * DAY_MS, n_inter))
    late = rng.random(n_inter) < 0.03
    ts[late] -= rng.integers(1, 600_000, int(late.sum()))  # late events, up to 10 minutes
    for lo in range(0, n_inter, batch):
        hi = min(lo + batch, n_inter)
        for k, et in enumerate((WATCHED, LIKED, SHARED)):
            m = kinds[lo:hi] == k
            attr = rng.random(int(m.sum())).astype(np.float32) * 100 if et == WATCHED else None
            batches.append((et, users[lo:hi][m], items[lo:hi][m], ts[lo:hi][m], attr))
    return {"n": {USER: n_user, CONTENT: n_content, CREATOR: n_creator, TAG: n_tag}, "batches": batches}


def _timed_ms(fn, repeat: int) -> str:
    """Median wall and median CPU milliseconds (CPU excludes time the shared machine took)."""
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - w) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return f"{statistics.median(wall):.2f} ms wall, {statistics.median(cpu):.2f} ms cpu"


def _cpu_ms(cell: str) -> float:
    return float(cell.split(" ms wall, ")[1].split(" ms")[0])


def _rss() -> int:
    """Resident bytes after returning freed heap pages to the OS (glibc malloc_trim)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):
            pass
    return psutil.Process().memory_info().rss


def run(n_edges: int, batch: int, seed: int, item_skew: float) -> list[tuple[str, str, str, str]]:
    data = make_data(n_edges, batch, seed, item_skew)
    rss0 = _rss()
    store = GraphStore()
    t = time.perf_counter()
    for nt, n in data["n"].items():
        store.index(nt, [f"{nt}:{i}" for i in range(n)])
    t_index = time.perf_counter() - t
    rss_ids = _rss() - rss0
    n_ids = sum(data["n"].values())
    total = 0
    t, c = time.perf_counter(), time.process_time()
    for et, s, d, ts, attr in data["batches"]:
        total += store.add_edges(et, s, d, ts, attr)
    t_append, c_append = time.perf_counter() - t, time.process_time() - c
    rss_delta = _rss() - rss0 - rss_ids
    nb = store.nbytes()
    et, s, d, ts, attr = data["batches"][-1]
    t = time.perf_counter()
    replayed = store.add_edges(et, s, d, ts, attr)
    t_replay = time.perf_counter() - t
    assert replayed == 0

    rng = np.random.default_rng(seed + 1)
    active = np.flatnonzero(store.degree(WATCHED, np.arange(store.num_nodes(USER))) >= 10)
    seeds = {USER: rng.choice(active, min(1000, active.size), replace=False)}
    watch_only = [WATCHED, reverse(WATCHED)]
    sub = sample(store, seeds, [10, 10], edge_types=watch_only)
    n_sampled = sum(int(v.shape[1]) for v in sub.edge_index.values())
    ms_watch = _timed_ms(lambda: sample(store, seeds, [10, 10], edge_types=watch_only), 21)
    ms_watch_pyg = _timed_ms(lambda: sample(store, seeds, [10, 10], edge_types=watch_only).to_hetero_data(), 21)
    sub_all = sample(store, seeds, [10, 10])
    n_all = sum(int(v.shape[1]) for v in sub_all.edge_index.values())
    ms_all = _timed_ms(lambda: sample(store, seeds, [10, 10]), 7)
    ms_uniform = _timed_ms(
        lambda: sample(store, seeds, [10, 10], edge_types=watch_only, strategy="uniform", rng=rng), 5
    )
    cutoff = store.max_ts - 3 * DAY_MS
    ms_before = _timed_ms(lambda: sample(store, seeds, [10, 10], edge_types=watch_only, before=cutoff), 7)
    ms_seen = _timed_ms(lambda: [store.seen(int(u)) for u in seeds[USER][:100]], 5)
    ms_seen_recent = _timed_ms(lambda: [store.seen(int(u), limit=5000) for u in seeds[USER][:100]], 5)
    ms_seen_many = _timed_ms(lambda: store.seen_many(seeds[USER][:100], limit=5000), 5)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "graph.npz")
        t = time.perf_counter()
        store.save(path, {"watch/0": 1})
        t_save = time.perf_counter() - t
        size = os.path.getsize(path)
        del store, sub, sub_all
        gc.collect()
        t = time.perf_counter()
        restored, _ = GraphStore.load(path)
        t_load = time.perf_counter() - t
    assert restored.num_edges() == total
    ms_rebuild, ms_growing = _past_degree_after_batches(restored, rng)

    rate, cpu_rate = total / t_append, total / c_append
    per_edge = nb["edges_used"] / total
    per_edge_all = (nb["edges_used"] + nb["node_chains"]) / total
    ok = lambda good: "yes" if good else "NO"  # noqa: E731
    return [
        ("edges stored (all types)", f"{total:,}", "", ""),
        ("index external ids", f"{n_ids / t_index / 1e6:.2f} M ids/s ({n_ids:,} ids)", "", ""),
        (
            f"append, batches of <= {batch:,}",
            f"{rate / 1e6:.2f} M edges/s wall, {cpu_rate / 1e6:.2f} cpu",
            ">= 5 M/s",
            ok(rate >= 5e6),
        ),
        ("replay of a batch (all duplicates)", f"{len(s) / t_replay / 1e6:.2f} M edges/s", "", ""),
        ("bytes/edge: edge arrays (used)", f"{per_edge:.2f}", "<= 24", ok(per_edge <= 24)),
        ("bytes/edge: + per-node chain state", f"{per_edge_all:.2f}", "<= 24", ok(per_edge_all <= 24)),
        ("bytes/edge: arrays allocated", f"{nb['edges_allocated'] / total:.2f}", "", ""),
        ("bytes/edge: RSS delta of the appends", f"{rss_delta / total:.2f}", "<= 24", ok(rss_delta / total <= 24)),
        ("  id maps (RSS, per node / per edge)", f"{rss_ids / n_ids:.0f} B / {rss_ids / total:.2f} B", "", ""),
        (f"2-hop (10,10) 1000 users, watched ({n_sampled:,} edges)", ms_watch, "<= 5 ms", ok(_cpu_ms(ms_watch) <= 5)),
        ("  same + to_hetero_data()", ms_watch_pyg, "<= 5 ms", ok(_cpu_ms(ms_watch_pyg) <= 5)),
        ("  same, uniform", ms_uniform, "", ""),
        ("  same, before = max_ts - 3 days", ms_before, "", ""),
        (f"2-hop (10,10) 1000 users, all 12 relations ({n_all:,} edges)", ms_all, "", ""),
        ("seen() for 100 users", ms_seen, "", ""),
        ("  newest 5,000 each, one call per user", ms_seen_recent, "", ""),
        ("  newest 5,000 each, one seen_many() call", ms_seen_many, "", ""),
        ("snapshot save", f"{t_save:.2f} s ({size / 1e6:.0f} MB)", "printed", ""),
        ("snapshot restore", f"{t_load:.2f} s", "printed", ""),
        ("1,000-edge batch + 7-day counts of 200 items: index re-sorted", ms_rebuild, "", ""),
        ("  same, sorted index kept, only the new edges sorted", ms_growing, "", ""),
    ]


def _past_degree_after_batches(store: GraphStore, rng: np.random.Generator) -> tuple[str, str]:
    """The worker's pattern: append a batch, then ask past-time counts (the encoders' window
    inputs) of some content; once re-sorting the whole index each time, once incrementally."""
    nodes = rng.integers(0, store.num_nodes(CONTENT), 200)
    users, items = store.num_nodes(USER), store.num_nodes(CONTENT)
    clock = [store.max_ts]

    def step(resort: bool) -> None:
        clock[0] += 1_000
        ts = clock[0] + np.arange(1_000)
        store.add_edges(WATCHED, rng.integers(0, users, 1_000), rng.integers(0, items, 1_000), ts,
                        np.full(1_000, 50.0, np.float32))
        if resort:
            store._timed.clear()
        store.degree(reverse(WATCHED), nodes, int(ts[-1]) - 7 * DAY_MS)

    step(True)  # the first query builds the index either way
    return _timed_ms(lambda: step(True), 9), _timed_ms(lambda: step(False), 9)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--edges", type=int, default=None, help="edges to load (default 10,000,000; 1,000,000 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="small run for smoke tests")
    parser.add_argument("--batch", type=int, default=200_000, help="interaction events per append batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--item-skew", type=float, default=3.0, help="content popularity skew (1 = uniform)")
    args = parser.parse_args(argv)
    n_edges = args.edges if args.edges is not None else (1_000_000 if args.quick else 10_000_000)
    rows = run(n_edges, args.batch, args.seed, args.item_skew)
    widths = [max(len(r[i]) for r in rows + [("metric", "measured", "target", "met")]) for i in range(4)]
    header = ("metric", "measured", "target", "met")
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


if __name__ == "__main__":
    main()
