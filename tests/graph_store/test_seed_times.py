"""Seeds taken as of their own time: each repeat its own node, nothing at or after its time."""

from __future__ import annotations

import numpy as np
import pytest

from graph_store import GraphStore, sample
from graph_store.schema import CONTENT, USER, WATCHED, reverse

REV_WATCHED = reverse(WATCHED)


def _store(seed: int = 0) -> tuple[GraphStore, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    store = GraphStore()
    store.index(USER, [f"u{i}" for i in range(5)])
    store.index(CONTENT, [f"c{i}" for i in range(30)])
    n = 300
    src, dst = rng.integers(0, 5, n), rng.integers(0, 30, n)
    ts = rng.integers(0, 50, n)  # many equal times: ties are broken by insertion order
    store.add_edges(WATCHED, src, dst, ts, attr=rng.random(n).astype(np.float32))
    return store, src, dst, ts


def _expected(src: np.ndarray, dst: np.ndarray, ts: np.ndarray, user: int, t: int, k: int) -> list[tuple[int, int]]:
    """The k newest (content, ts) of ``user`` with ts < t, by (ts, insertion); deduplicated
    the way the store keeps edges (one per (src, dst, ts))."""
    seen: dict[tuple[int, int], int] = {}
    for i, (s, d, e) in enumerate(zip(src.tolist(), dst.tolist(), ts.tolist())):
        if s == user and e < t and (d, e) not in seen:
            seen[(d, e)] = i
    ranked = sorted(seen, key=lambda de: (de[1], seen[de]))
    return ranked[-k:] if k >= 0 else ranked


@pytest.mark.parametrize("k", [1, 3, -1])
def test_each_timed_seed_sees_its_k_newest_edges_before_its_own_time(k: int) -> None:
    store, src, dst, ts = _store()
    users = np.array([0, 0, 1, 2, 2, 4])  # repeats allowed
    times = np.array([10, 40, 25, 3, 49, 0])
    sub = sample(store, {USER: users}, [k], before=0, seed_times={USER: times}, edge_types=[REV_WATCHED])
    assert sub.node_ids[USER][: len(users)].tolist() == users.tolist()
    ei = sub.edge_index.get(REV_WATCHED)
    got: dict[int, set[tuple[int, int]]] = {r: set() for r in range(len(users))}
    if ei is not None:
        e = ei.numpy()
        for c_local, u_local, t in zip(e[0].tolist(), e[1].tolist(), sub.edge_time[REV_WATCHED].tolist()):
            got[u_local].add((int(sub.node_ids[CONTENT][c_local]), t))
    for r, (u, t) in enumerate(zip(users.tolist(), times.tolist())):
        assert got[r] == set(_expected(src, dst, ts, u, t, k)), (r, u, t)


def test_later_hops_use_before_and_before_may_not_pass_a_seed_time() -> None:
    store, *_ = _store(1)
    sub = sample(store, {USER: np.array([3, 3])}, [5, 5], before=20, seed_times={USER: np.array([30, 45])})
    # the seeds' own edges reach up to their times; everything a hop further is before 20
    assert int(sub.edge_time[REV_WATCHED].max()) >= 20
    assert int(sub.edge_time[WATCHED].max()) < 20
    with pytest.raises(ValueError, match="before <= every seed time"):
        sample(store, {USER: np.array([3])}, [5], before=31, seed_times={USER: np.array([30])})
    with pytest.raises(ValueError, match="before <= every seed time"):
        sample(store, {USER: np.array([3])}, [5], seed_times={USER: np.array([30])})
    with pytest.raises(ValueError, match="2 times for 1 seeds"):
        sample(store, {USER: np.array([3])}, [5], before=0, seed_times={USER: np.array([30, 40])})


def test_degree_and_last_ts_take_one_time_per_node() -> None:
    store, *_ = _store(2)
    nodes = np.array([0, 1, 1, 4])
    times = np.array([5, 5, 30, 49])
    one_by_one = [int(store.degree(WATCHED, nodes[i : i + 1], int(times[i]))[0]) for i in range(4)]
    assert store.degree(WATCHED, nodes, times).tolist() == one_by_one
    last = [int(store.last_ts(WATCHED, nodes[i : i + 1], int(times[i]))[0]) for i in range(4)]
    assert store.last_ts(WATCHED, nodes, times).tolist() == last
    with pytest.raises(ValueError, match="one time per node"):
        store.degree(WATCHED, nodes, times[:2])


def test_uniform_timed_seeds_take_k_distinct_edges_before_their_time() -> None:
    store, src, dst, ts = _store(3)
    users = np.array([0, 1, 1, 3])
    times = np.array([30, 5, 45, 20])
    sub = sample(store, {USER: users}, [4], before=0, seed_times={USER: times}, edge_types=[REV_WATCHED],
                 strategy="uniform", rng=np.random.default_rng(0))
    e = sub.edge_index[REV_WATCHED].numpy()
    t = sub.edge_time[REV_WATCHED].numpy()
    for r, (u, when) in enumerate(zip(users.tolist(), times.tolist())):
        mine = e[1] == r
        got = set(zip(sub.node_ids[CONTENT][e[0][mine]].tolist(), t[mine].tolist()))
        allowed = set(_expected(src, dst, ts, u, when, -1))
        assert len(got) == mine.sum() == min(4, len(allowed)) and got <= allowed, (r, got)
