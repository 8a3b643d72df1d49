"""Nodes with thousands of out-of-order edges: the scan and fallback paths against the reference."""

from __future__ import annotations

import numpy as np

from graph_store import GraphStore, sample
from graph_store.schema import CONTENT, LIKED, USER, reverse
from tests.graph_store.reference import RefGraph


def test_high_degree_nodes_with_late_events_and_replays() -> None:
    rng = np.random.default_rng(7)
    g, ref = GraphStore(segment_edges=256), RefGraph(segment_edges=256)
    g.index(USER, [f"u{i}" for i in range(4)])
    g.index(CONTENT, [f"c{i}" for i in range(4)])
    batches = []
    for b in range(12):
        n = 400
        src = rng.integers(0, 2, n)  # two hot users, two hot items
        dst = rng.integers(0, 2, n)
        ts = rng.integers(b * 100, b * 100 + 300, n)  # overlapping windows: many late events
        batches.append((src, dst, ts))
        assert g.add_edges(LIKED, src, dst, ts) == ref.add(LIKED, src.tolist(), dst.tolist(), ts.tolist(), None)
    assert g.degree(LIKED, np.array([0])).item() > 1000
    for src, dst, ts in batches[::-1]:  # replays of old batches are all duplicates
        assert g.add_edges(LIKED, src, dst, ts) == 0
    for rel in (LIKED, reverse(LIKED)):
        for v in range(2):
            nbr, ts, _ = g.neighbors(rel, v, before=900)
            want = ref.out_edges(rel, v, before=900)
            assert nbr.tolist() == [r[0] for r in want] and ts.tolist() == [r[1] for r in want]
    for before in (None, 700):
        sub = sample(g, {USER: np.arange(2), CONTENT: np.arange(2)}, [25], before=before)
        for rel in (LIKED, reverse(LIKED)):
            ei, t = sub.edge_index[rel].numpy(), sub.edge_time[rel].numpy()
            src_ids, dst_ids = sub.node_ids[rel[0]][ei[0]], sub.node_ids[rel[2]][ei[1]]
            for v in range(2):
                got = set(zip(src_ids[dst_ids == v].tolist(), t[dst_ids == v].tolist()))
                assert got == set(ref.recent(reverse(rel), v, 25, before))


def test_uniform_on_busy_nodes_draws_distinct_true_edges() -> None:
    rng = np.random.default_rng(3)
    g = GraphStore(segment_edges=128)
    g.index(USER, [f"u{i}" for i in range(3)])
    g.index(CONTENT, [f"c{i}" for i in range(3)])
    src, dst = rng.integers(0, 3, 3000), rng.integers(0, 3, 3000)
    ts = rng.integers(0, 10_000, 3000)
    g.add_edges(LIKED, src, dst, ts)
    truth = set(zip(src.tolist(), dst.tolist(), ts.tolist()))
    for before in (None, 5_000):
        sub = sample(g, {CONTENT: np.arange(3)}, [40], strategy="uniform", before=before, rng=rng)
        ei, t = sub.edge_index[LIKED].numpy(), sub.edge_time[LIKED].numpy()
        rows = list(zip(sub.node_ids[USER][ei[0]].tolist(), sub.node_ids[CONTENT][ei[1]].tolist(), t.tolist()))
        assert len(set(rows)) == len(rows) == 3 * 40
        assert set(rows) <= truth
        assert before is None or max(t.tolist()) < before
