"""Property tests: GraphStore against the naive dict-of-lists reference in ``reference.py``."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
import os
import tempfile
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph_store import GraphStore, chains, sample, selection
from graph_store import store as store_module
from graph_store.schema import (
    CONTENT, CREATED_BY, CREATOR, EDGE_ATTR, LIKED, SIMILAR_TO, USER, WATCHED, EdgeType, reverse,
)
from tests.graph_store.reference import RefGraph

N = 5  # nodes per type
TYPES: list[EdgeType] = [WATCHED, LIKED, SIMILAR_TO, CREATED_BY]
TIMES = st.one_of(st.integers(0, 40), st.sampled_from([2**33, 2**33 + 1, 2**40]))
#: GRAPH_STORE_EXAMPLES=2000 runs a deeper search than the default quick pass.
SETTINGS = settings(
    max_examples=int(os.environ.get("GRAPH_STORE_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Thresholds small enough that tiny graphs take the scan, fallback and chunked-scan paths.
TINY_SELECTION = {
    "WALK_STEPS_PER_K": 1, "WALK_EXTRA_STEPS": 0, "SCAN_CHUNK": 2, "UNIFORM_OVERSAMPLE": 0.3, "UNIFORM_EXTRA": 0.0,
}


@contextlib.contextmanager
def _thresholds(tiny: bool) -> Iterator[None]:
    if not tiny:
        yield
        return
    with mock.patch.multiple(chains, SCAN_MIN_DEGREE=1), mock.patch.multiple(selection, **TINY_SELECTION):
        yield


@st.composite
def batch(draw: st.DrawFn) -> tuple:
    et = draw(st.sampled_from(TYPES))
    n = draw(st.integers(0, 10))
    src = draw(st.lists(st.integers(0, N - 1), min_size=n, max_size=n))
    dst = draw(st.lists(st.integers(0, N - 1), min_size=n, max_size=n))
    ts = draw(st.lists(TIMES, min_size=n, max_size=n))
    attr = [float(i) / 8 for i in range(n)] if et in EDGE_ATTR else None
    return ("add", et, src, dst, ts, attr)


op = st.one_of(batch(), batch(), batch(), st.tuples(st.just("evict"), st.one_of(st.none(), st.integers(0, 80))))
config = st.fixed_dictionaries(
    {
        "segment_edges": st.sampled_from([1, 2, 3, 4, 8]),
        "retention_ms": st.one_of(st.none(), st.integers(0, 30)),
        "max_edges": st.one_of(st.none(), st.integers(0, 12)),
    }
)


def _new(cfg: dict) -> tuple[GraphStore, RefGraph]:
    g = GraphStore(**cfg)
    for nt in (USER, CONTENT, CREATOR):
        g.index(nt, [f"{nt}{i}" for i in range(N)])
    return g, RefGraph(**cfg)


def _apply(g: GraphStore, ref: RefGraph, o: tuple) -> None:
    if o[0] == "add":
        _, et, src, dst, ts, attr = o
        a = np.array(attr, dtype=np.float32) if attr is not None else None
        arrays = [np.array(v, dtype=np.int64) for v in (src, dst, ts)]
        assert g.add_edges(et, *arrays, a) == ref.add(et, src, dst, ts, attr)
        assert g.add_edges(et, *arrays, a) == 0  # idempotent
    else:
        assert g.evict(o[1]) == ref.evict(o[1])


def _same(g: GraphStore, ref: RefGraph) -> None:
    assert g.num_edges() == ref.num_edges()
    assert g.max_ts == ref.max_ts
    for et in TYPES:
        assert g.num_edges(et) == len(ref.edges[et])
        for rel in (et, reverse(et)):
            for v in range(N):
                nbr, ts, attr = g.neighbors(rel, v)
                want = ref.out_edges(rel, v)
                assert nbr.tolist() == [r[0] for r in want]
                assert ts.tolist() == [r[1] for r in want]
                assert all((math.isnan(a) and math.isnan(r[2])) or a == r[2] for a, r in zip(attr.tolist(), want))
            degs = g.degree(rel, np.arange(N)).tolist()
            assert degs == [len(ref.out_edges(rel, v)) for v in range(N)]
    for u in range(N):
        assert g.seen(u).tolist() == ref.seen(u)
    users = np.array([u for u in range(N) for _ in range(2)][::-1], np.int64)  # repeated, any order
    for limit in (None, 0, 1, 3):
        want = [ref.seen(u) if limit is None else ref.seen_recent(u, limit) for u in users.tolist()]
        for batch_walk in (0, len(users)):  # chains walked as one batch, then one user at a time
            with mock.patch.object(store_module, "SEEN_BATCH_WALK", batch_walk):
                assert [a.tolist() for a in g.seen_many(users, limit)] == want


def _edge_sets(sub, et) -> dict[int, set[tuple[int, int]]]:
    """Per global target node: the set of (global source, ts) sampled along relation ``et``."""
    out: dict[int, set[tuple[int, int]]] = {}
    if et in sub.edge_index:
        ei, t = sub.edge_index[et].numpy(), sub.edge_time[et].numpy()
        for s, d, tt in zip(sub.node_ids[et[0]][ei[0]].tolist(), sub.node_ids[et[2]][ei[1]].tolist(), t.tolist()):
            assert (s, tt) not in out.setdefault(d, set())
            out[d].add((s, tt))
    return out


@SETTINGS
@given(cfg=config, ops=st.lists(op, max_size=12), tiny=st.booleans())
def test_store_matches_reference(cfg: dict, ops: list, tiny: bool) -> None:
    with _thresholds(tiny):
        g, ref = _new(cfg)
        for o in ops:
            _apply(g, ref, o)
            _same(g, ref)




@SETTINGS
@given(cfg=config, ops=st.lists(op, max_size=12), befores=st.lists(st.one_of(st.none(), TIMES), max_size=4))
def test_degree_and_last_ts_before_match_reference(cfg: dict, ops: list, befores: list) -> None:
    g, ref = _new(cfg)
    for o in ops:
        _apply(g, ref, o)
        for before in befores:  # interleaved with appends and evictions: the index must follow
            for et in TYPES:
                for rel in (et, reverse(et)):
                    want = [ref.out_edges(rel, v, before) for v in range(N)]
                    assert g.degree(rel, np.arange(N), before).tolist() == [len(w) for w in want]
                    assert g.last_ts(rel, np.arange(N), before).tolist() == [
                        max((r[1] for r in w), default=-1) for w in want
                    ]


@SETTINGS
@given(
    cfg=config,
    ops=st.lists(op, max_size=10),
    k=st.integers(1, 4),
    before=st.one_of(st.none(), st.integers(0, 45)),
    tiny=st.booleans(),
)
def test_one_hop_recent_is_exact(cfg: dict, ops: list, k: int, before: int | None, tiny: bool) -> None:
    with _thresholds(tiny):
        _check_one_hop_recent(cfg, ops, k, before)


def _check_one_hop_recent(cfg: dict, ops: list, k: int, before: int | None) -> None:
    g, ref = _new(cfg)
    for o in ops:
        _apply(g, ref, o)
    seeds = {USER: np.arange(N), CONTENT: np.arange(N), CREATOR: np.arange(N)}
    sub = sample(g, seeds, [k], before=before)
    for et in TYPES:
        for rel in (et, reverse(et)):
            got = _edge_sets(sub, rel)
            for v in range(N):
                want = set(ref.recent(reverse(rel), v, k, before))
                assert got.get(v, set()) == want, (rel, v)


@SETTINGS
@given(
    cfg=config,
    ops=st.lists(op, max_size=10),
    fanouts=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    before=st.one_of(st.none(), st.integers(0, 45)),
    strategy=st.sampled_from(["recent", "uniform"]),
    seed=st.integers(0, 2**16),
    tiny=st.booleans(),
)
def test_multi_hop_sample_stays_in_true_neighbourhood(
    cfg: dict, ops: list, fanouts: list[int], before: int | None, strategy: str, seed: int, tiny: bool
) -> None:
    with _thresholds(tiny):
        _check_multi_hop(cfg, ops, fanouts, before, strategy, seed)


def _check_multi_hop(cfg: dict, ops: list, fanouts: list[int], before: int | None, strategy: str, seed: int) -> None:
    g, ref = _new(cfg)
    for o in ops:
        _apply(g, ref, o)
    rng = np.random.default_rng(seed)
    sub = sample(g, {USER: np.array([0, 2])}, fanouts, strategy=strategy, before=before, rng=rng)
    assert sub.node_ids[USER][:2].tolist() == [0, 2] and sub.num_seeds[USER] == 2
    for nt, ids in sub.node_ids.items():
        assert len(set(ids.tolist())) == len(ids)
    for rel in sub.edge_index:
        for v, got in _edge_sets(sub, rel).items():
            true = {(r[0], r[1]) for r in ref.out_edges(reverse(rel), v, before)}
            assert got <= true
            assert len(got) <= max(fanouts)
    for rel in (reverse(WATCHED), reverse(LIKED)):  # relations into the seeds: hop 0, exact count
        got = _edge_sets(sub, rel)
        for v in (0, 2):
            true = ref.out_edges(reverse(rel), v, before)
            assert len(got.get(v, ())) == min(len(true), fanouts[0])
            if strategy == "recent":
                assert got.get(v, set()) == set(ref.recent(reverse(rel), v, fanouts[0], before))


@SETTINGS
@given(cfg=config, ops=st.lists(op, max_size=12), more=batch())
def test_snapshot_round_trip(cfg: dict, ops: list, more: tuple) -> None:
    g, ref = _new(cfg)
    for o in ops:
        _apply(g, ref, o)
    g.set_features(CONTENT, np.array([1, 3]), duration=np.array([1.5, 2.5]))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "snap.npz")
        g.save(path, {"watch/0": 17})
        g2, wm = GraphStore.load(path)
        assert os.listdir(tmp) == ["snap.npz"]
    assert wm == {"watch/0": 17}
    _same(g2, ref)
    assert g2.lookup(USER, [f"{USER}3"]).tolist() == [3]
    assert np.array_equal(g2.features(CONTENT, "duration"), g.features(CONTENT, "duration"), equal_nan=True)
    assert np.allclose(g2.trending(3, now_ms=50)[1], g.trending(3, now_ms=50)[1])
    _apply(g2, ref, more)
    _apply(g2, ref, ("evict", None))
    _same(g2, ref)
