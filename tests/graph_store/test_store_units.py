"""Hand-built cases with known answers for ids, features, edges, trending, dirty sets, eviction."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from graph_store import GraphStore
from graph_store.schema import CONTENT, CREATED_BY, CREATOR, LIKED, SHARED, SIMILAR_TO, USER, WATCHED, reverse


def _store(**kw: int) -> GraphStore:
    g = GraphStore(**kw)
    g.index(USER, ["u0", "u1", "u2"])
    g.index(CONTENT, ["c0", "c1", "c2", "c3"])
    return g


def test_ids_are_dense_stable_and_accept_ints() -> None:
    g = GraphStore()
    assert g.index(USER, ["a", "b", "a"]).tolist() == [0, 1, 0]
    assert g.index(USER, [7, "7", np.int64(8)]).tolist() == [2, 2, 3]
    assert g.index(USER, np.array([8, 9])).tolist() == [3, 4]
    assert g.lookup(USER, ["b", "zz", 9]).tolist() == [1, -1, 4]
    assert g.num_nodes(USER) == 5 and g.num_nodes(CONTENT) == 0
    assert g.external(USER, np.array([4, 0])) == ["9", "a"]
    assert g.lookup(CONTENT, ["a"]).tolist() == [-1] and g.num_nodes(CONTENT) == 0


def test_features_grow_with_nodes_and_default_to_nan() -> None:
    g = _store()
    g.set_features(CONTENT, np.array([1, 3]), duration=np.array([30.0, 60.0]), emb=np.ones((2, 3)))
    dur = g.features(CONTENT, "duration")
    assert dur.dtype == np.float32 and dur.shape == (4,)
    assert math.isnan(dur[0]) and dur[1] == 30.0 and dur[3] == 60.0
    g.index(CONTENT, ["c4"])
    assert g.features(CONTENT, "emb").shape == (5, 3)
    assert np.isnan(g.features(CONTENT, "emb", np.array([4]))).all()
    assert g.feature_columns(CONTENT) == ["duration", "emb"] and g.feature_columns(USER) == []


def test_neighbors_are_time_ordered_in_both_directions() -> None:
    g = _store()
    assert g.add_edges(WATCHED, [0, 0, 1, 0], [2, 1, 1, 3], [50, 10, 20, 5], attr=[0.5, 0.1, 0.2, 0.05]) == 4
    nbr, ts, attr = g.neighbors(WATCHED, 0)
    assert nbr.tolist() == [3, 1, 2] and ts.tolist() == [5, 10, 50]
    assert np.allclose(attr, [0.05, 0.1, 0.5])
    nbr, ts, _ = g.neighbors(reverse(WATCHED), 1)
    assert nbr.tolist() == [0, 1] and ts.tolist() == [10, 20]
    assert g.neighbors(WATCHED, 0, before=10)[0].tolist() == [3]
    _, _, attr = g.neighbors(LIKED, 0)
    assert attr.size == 0
    assert g.degree(WATCHED, np.array([0, 1, 2])).tolist() == [3, 1, 0]
    assert g.degree(reverse(WATCHED), np.array([1, 2])).tolist() == [2, 1]
    assert g.num_edges(WATCHED) == 4 and g.num_edges() == 4 and g.max_ts == 50


def test_add_edges_is_idempotent_within_and_across_batches() -> None:
    g = _store()
    assert g.add_edges(LIKED, [0, 0, 0], [1, 1, 1], [7, 7, 8]) == 2
    assert g.add_edges(LIKED, [0, 0, 1], [1, 1, 1], [7, 8, 7]) == 1
    assert g.neighbors(LIKED, 0)[1].tolist() == [7, 8]
    assert g.num_edges(LIKED) == 3


def test_seen_with_a_limit_keeps_the_most_recent_items() -> None:
    g = _store()
    g.add_edges(LIKED, [1], [2], [0])
    g.add_edges(WATCHED, [1, 1], [0, 3], [500, 400], attr=[1.0, 1.0])
    g.add_edges(SHARED, [1], [2], [300])  # a newer interaction with c2 does not pass c0 and c3
    assert g.seen(1).tolist() == [0, 2, 3]
    assert g.seen(1, limit=2).tolist() == [0, 3] and g.seen(1, limit=10).tolist() == [0, 3, 2]


def test_seen_dirty_and_trending() -> None:
    g = _store(trending_half_life_ms=1000)
    g.add_edges(WATCHED, [0], [1], [0], attr=[1.0])
    g.add_edges(LIKED, [0, 1], [2, 2], [0, 0])
    g.add_edges(SHARED, [0], [2], [1000])
    assert g.seen(0).tolist() == [1, 2] and g.seen(2).tolist() == []
    assert g.seen(0, limit=5).tolist() == [2, 1] and g.seen(0, limit=1).tolist() == [2]  # newest first
    dirty = g.take_dirty()
    assert dirty[USER].tolist() == [0, 1] and dirty[CONTENT].tolist() == [1, 2]
    assert all(v.size == 0 for v in g.take_dirty().values())
    idx, score = g.trending(5, now_ms=1000)
    assert idx.tolist() == [2, 1]
    assert np.allclose(score, [0.5 + 0.5 + 1.0, 0.5])
    g.add_edges(SHARED, [0], [2], [1000])  # duplicate: not counted again
    assert np.allclose(g.trending(1, now_ms=2000)[1], [1.0])


def test_eviction_drops_whole_oldest_segments() -> None:
    g = _store(segment_edges=2, retention_ms=200)
    g.add_edges(LIKED, [0, 0, 0, 0, 0], [0, 1, 2, 3, 0], [10, 20, 150, 160, 300])
    assert g.evict() == 2  # segment {10, 20}; segment {150, 160} is still in the window at now=300
    assert g.neighbors(LIKED, 0)[1].tolist() == [150, 160, 300]
    assert g.degree(reverse(LIKED), np.array([0, 1, 2])).tolist() == [1, 0, 1]
    assert g.evict(now_ms=1000) == 3 and g.num_edges() == 0
    # catalog facts are not evicted by default
    g.index(CREATOR, ["k"])
    g.add_edges(CREATED_BY, [0], [0], [1])
    assert g.evict(now_ms=10**9) == 0 and g.num_edges(CREATED_BY) == 1


def test_max_edges_evicts_the_oldest_segment_across_types() -> None:
    g = _store(segment_edges=2, max_edges=3)
    g.add_edges(LIKED, [0, 0], [0, 1], [10, 20])
    g.add_edges(SHARED, [1, 1], [0, 1], [5, 6])
    g.take_dirty()
    assert g.evict() == 2
    assert g.num_edges(SHARED) == 0 and g.num_edges(LIKED) == 2
    # the ends of the dropped edges changed neighbourhoods: user 1, content 0 and 1 re-embed
    dirty = g.take_dirty()
    assert dirty[USER].tolist() == [1] and dirty[CONTENT].tolist() == [0, 1]


def test_out_of_order_and_far_timestamps_read_back_exactly() -> None:
    g = _store(segment_edges=4)
    far = [2**40, 3, 2**35 + 1, 0]
    for t in far:
        g.add_edges(LIKED, [0], [1], [t])
    assert g.neighbors(LIKED, 0)[1].tolist() == sorted(far)
    assert g.add_edges(LIKED, [0] * 4, [1] * 4, far) == 0


def test_similar_to_carries_its_attribute_both_ways() -> None:
    g = _store()
    g.add_edges(SIMILAR_TO, [0, 0], [0, 1], [1, 2], attr=[1.0, 0.25])
    assert g.neighbors(SIMILAR_TO, 0)[0].tolist() == [0, 1]
    nbr, _, attr = g.neighbors(reverse(SIMILAR_TO), 1)
    assert nbr.tolist() == [0] and attr.tolist() == [0.25]


def test_snapshot_keeps_unicode_ids_features_and_watermark(tmp_path) -> None:
    g = _store()
    g.index(USER, ["é-ü", "", "日本"])
    g.set_features(USER, np.array([3, 5]), emb=np.arange(4.0).reshape(2, 2))
    g.add_edges(WATCHED, [3, 5], [0, 1], [1, 2], attr=[0.5, np.nan])
    path = tmp_path / "g.npz"
    g.save(path, {"watch/0": 10, "like/3": 0})
    h, wm = GraphStore.load(path)
    assert wm == {"watch/0": 10, "like/3": 0}
    assert h.external(USER, np.arange(6)) == ["u0", "u1", "u2", "é-ü", "", "日本"]
    assert h.lookup(USER, ["日本"]).tolist() == [5]
    assert np.array_equal(h.features(USER, "emb"), g.features(USER, "emb"), equal_nan=True)
    nbr, ts, attr = h.neighbors(reverse(WATCHED), 1)
    assert nbr.tolist() == [5] and ts.tolist() == [2] and np.isnan(attr[0])
    assert h.max_ts == 2 and sorted(tmp_path.iterdir()) == [path]
    with pytest.raises(ValueError, match=r"watermark\['x'\] = 1.5 is not an int"):
        g.save(tmp_path / "bad.npz", {"x": 1.5})  # type: ignore[dict-item]
    assert sorted(tmp_path.iterdir()) == [path]


def test_time_queries_stay_exact_while_batches_arrive_and_old_edges_go(monkeypatch) -> None:
    """Past-time degree and last_ts after each batch (the online case: a sorted index of the
    older edges plus the batch's) match a brute-force count, through index rebuilds and eviction."""
    from graph_store import timed

    monkeypatch.setattr(timed, "TAIL_MIN_EDGES", 40)  # rebuild every few batches, not never
    rng = np.random.default_rng(7)
    g = _store(segment_edges=64, retention_ms=5_000)
    g.index(USER, [f"u{i}" for i in range(12)])
    g.index(CONTENT, [f"c{i}" for i in range(30)])
    kinds_seen: set[str] = set()
    for step in range(40):
        n = int(rng.integers(1, 30))
        t0 = 1_000 + step * 250
        s, d = rng.integers(0, 12, n), rng.integers(0, 30, n)
        g.add_edges(WATCHED, s, d, t0 + rng.integers(-400, 250, n), attr=np.full(n, 50.0))  # some out of order
        if step % 9 == 8:
            g.evict()
        src, dst, ts = _live(g)
        for side, nodes, key in ((WATCHED, np.arange(12), src), (reverse(WATCHED), np.arange(30), dst)):
            before = t0 + rng.integers(-2_000, 400, len(nodes))
            want_deg = [int(((key == v) & (ts < b)).sum()) for v, b in zip(nodes, before)]
            want_last = [int(ts[(key == v) & (ts < b)].max(initial=-1)) for v, b in zip(nodes, before)]
            assert g.degree(side, nodes, before).tolist() == want_deg
            assert g.last_ts(side, nodes, before).tolist() == want_last
        kinds_seen.add(type(g._timed[(WATCHED, True)]).__name__)
    assert kinds_seen == {"TimedIndex", "GrowingIndex"}


def _live(g: GraphStore) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every live watched edge as (user, content, ts), read through the public API."""
    src, dst, ts = [], [], []
    for u in range(g.num_nodes(USER)):
        nbr, t = g.neighbors(WATCHED, u)[:2]
        src += [u] * len(nbr)
        dst += nbr.tolist()
        ts += t.tolist()
    return np.array(src, np.int64), np.array(dst, np.int64), np.array(ts, np.int64)


def test_years_of_history_in_one_segment_survive_eviction_and_snapshots(tmp_path) -> None:
    """A backfill puts years into one segment: most times overflow the segment's int32 span."""
    year = 365 * 86_400_000
    g = _store(segment_edges=8, retention_ms=3 * year)
    ts = [k * year // 4 for k in range(24)]  # six years, a quarter apart
    g.add_edges(LIKED, [k % 3 for k in range(24)], [k % 4 for k in range(24)], ts)
    assert g.neighbors(LIKED, 0)[1].tolist() == ts[0::3]
    ring = g._rings[LIKED]
    overflowing = len(ring.overflow)
    assert overflowing >= 16  # nearly every edge: a quarter year is far beyond a segment's int32 span
    assert g.evict() == 8  # the oldest whole segment (its newest edge is older than 3 years)
    assert 0 < len(ring.overflow) < overflowing and ring.overflow.pairs()[:, 0].min() >= ring.lo  # freed with it
    live = sorted(t for u in range(3) for t in g.neighbors(LIKED, u)[1].tolist())
    assert live == ts[8:]
    g.save(tmp_path / "g.npz", {})
    restored, _ = GraphStore.load(tmp_path / "g.npz")
    assert sorted(t for u in range(3) for t in restored.neighbors(LIKED, u)[1].tolist()) == ts[8:]
    assert restored.degree(reverse(LIKED), np.arange(4), before=ts[12]).tolist() == [1, 1, 1, 1]
    assert restored.add_edges(LIKED, [0], [0], [ts[-1] + year]) == 1  # appends go on after a restore
    assert restored.neighbors(LIKED, 0)[1].tolist()[-1] == ts[-1] + year


def test_first_interaction_times_survive_eviction_snapshots_and_old_snapshots(tmp_path) -> None:
    g = _store(segment_edges=2, retention_ms=100)
    g.add_edges(LIKED, [0, 1], [1, 2], [50, 40])
    g.add_edges(WATCHED, [0, 0], [1, 3], [500, 30], attr=[1.0, 2.0])  # out of order: c3 at 30
    g.index(CREATOR, ["k"])
    g.add_edges(CREATED_BY, [0], [0], [1])  # a catalog edge is not an interaction
    assert g.first_ts(USER, np.arange(3)).tolist() == [30, 40, -1]
    assert g.first_ts(CONTENT, np.arange(4)).tolist() == [-1, 50, 40, 30]
    # as of a time: only when the first interaction is strictly before it
    assert g.first_ts(CONTENT, np.arange(4), 40).tolist() == [-1, -1, -1, 30]
    assert g.first_ts(CONTENT, np.arange(4), np.array([0, 51, 41, 30])).tolist() == [-1, 50, 40, -1]
    assert g.evict() == 2 and g.first_ts(USER, [1]).tolist() == [40]  # the {50, 40} likes are gone
    with pytest.raises(ValueError, match="first_ts is kept for"):
        g.first_ts(CREATOR, [0])
    path = tmp_path / "g.npz"
    g.save(path, {})
    h, _ = GraphStore.load(path)
    assert h.first_ts(CONTENT, np.arange(4)).tolist() == [-1, 50, 40, 30]
    # a format-4 snapshot has no such times: they come back from the live edges
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("first.")}
    header = json.loads(arrays["header"].tobytes().decode())
    arrays["header"] = np.frombuffer(json.dumps({**header, "format": 4}).encode(), dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    old, _ = GraphStore.load(tmp_path / "old.npz")
    assert old.first_ts(CONTENT, np.arange(4)).tolist() == [-1, 500, -1, 30]
    assert old.first_ts(USER, np.arange(3)).tolist() == [30, -1, -1]


def test_a_new_trending_half_life_rescores_the_live_edges() -> None:
    events = ([0, 1, 2, 0], [0, 1, 1, 2], [0, 3_600_000, 7_200_000, 7_200_000])
    g = _store(trending_half_life_ms=3_600_000)
    g.add_edges(LIKED, *events)
    g.set_trending_half_life(60_000)
    h = _store(trending_half_life_ms=60_000)
    h.add_edges(LIKED, *events)
    (gi, gs), (hi, hs) = g.trending(3), h.trending(3)
    assert gi.tolist() == hi.tolist() == [1, 2, 0] and np.allclose(gs, hs)
    assert g.trending_half_life_ms == 60_000
    assert gs[0] == pytest.approx(1 + 2 ** -60)  # a like now plus one 60 half-lives old
