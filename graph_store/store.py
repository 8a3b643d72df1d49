"""GraphStore: the in-memory temporal heterogeneous graph (ids, features, edges, trending)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np

from graph_store import chains, snapshot
from graph_store._arrays import as_float_array, as_int_array, as_node_index, grow
from graph_store.batch import prepare
from graph_store.features import FeatureTable
from graph_store.ids import IdMap
from graph_store.schema import (
    CONTENT, EDGE_ATTR, EDGE_TYPES, INTERACTIONS, NODE_TYPES, USER, EdgeType, check_edge_type,
    check_node_type, reverse,
)
from graph_store.segments import EdgeRing, Side
from graph_store.timed import GrowingIndex, TimedIndex, timed_view
from graph_store.trending import Trending

#: Node types whose first interaction time is kept (``GraphStore.first_ts``).
FIRST_SEEN_TYPES = (USER, CONTENT)
NO_TS = np.iinfo(np.int64).max


#: Above this many users, ``seen_many`` walks their chains as one batch (measured on
#: MovieLens: 102 vs 154 us per user at 610 users, 261 vs 91 at 20).
SEEN_BATCH_WALK = 128


class GraphStore:
    """Timestamped typed edges between dense node ids, with retention, trending and snapshots.

    Concurrency: one re-entrant lock guards every public method, so a reader on another
    thread (e.g. ``seen`` from the HTTP thread) waits for a batch being appended and never
    sees it half-applied.

    Args:
        retention_ms: ``evict`` drops segments whose newest edge is older than ``now - retention_ms``.
        max_edges: ``evict`` drops the oldest segments until at most this many evictable edges remain.
        segment_edges: edges per segment, the unit of eviction (a power of two is fastest).
        trending_half_life_ms: half-life of the trending score.
        evict_types: edge types retention applies to; catalog facts (created_by, has_tag,
            similar_to) come from a compacted topic and are kept by default.
    """

    def __init__(
        self,
        *,
        retention_ms: int | None = None,
        max_edges: int | None = None,
        segment_edges: int = 65536,
        trending_half_life_ms: int = 3_600_000,
        evict_types: Sequence[EdgeType] = INTERACTIONS,
    ) -> None:
        if retention_ms is not None and retention_ms < 0:
            raise ValueError(f"retention_ms must be >= 0 or None, got {retention_ms}")
        if max_edges is not None and max_edges < 0:
            raise ValueError(f"max_edges must be >= 0 or None, got {max_edges}")
        self.retention_ms = retention_ms
        self.max_edges = max_edges
        self.segment_edges = int(segment_edges)
        self.trending_half_life_ms = int(trending_half_life_ms)
        self.evict_types = tuple(check_edge_type(e) for e in evict_types)
        self._lock = threading.RLock()
        self._ids = {nt: IdMap(nt) for nt in NODE_TYPES}
        self._feats = {nt: FeatureTable(nt) for nt in NODE_TYPES}
        self._rings = {et: EdgeRing(self.segment_edges, et in EDGE_ATTR) for et in EDGE_TYPES}
        self._trending = Trending(self.trending_half_life_ms)
        self._dirty = {nt: np.zeros(0, dtype=bool) for nt in NODE_TYPES}
        self._max_ts = -1
        # earliest interaction time per user and content (NO_TS: none); kept through eviction
        self._first = {nt: np.zeros(0, dtype=np.int64) for nt in FIRST_SEEN_TYPES}
        self._timed: dict[tuple[EdgeType, bool], TimedIndex | GrowingIndex] = {}  # past-time degree indexes

    # -- node ids and features ----------------------------------------------------------------
    def _sides(self, node_type: str) -> list[Side]:
        sides = [r.out for et, r in self._rings.items() if et[0] == node_type]
        return sides + [r.inn for et, r in self._rings.items() if et[2] == node_type]

    def _grow_nodes(self, node_type: str) -> None:
        n = len(self._ids[node_type])
        for side in self._sides(node_type):
            side.ensure(n)
        self._feats[node_type].resize(n)
        self._dirty[node_type] = grow(self._dirty[node_type], n, False)
        if node_type == CONTENT:
            self._trending.resize(n)
        if node_type in self._first:
            self._first[node_type] = grow(self._first[node_type], n, NO_TS)

    def index(self, node_type: str, external_ids: Any) -> np.ndarray:
        """Dense ids of ``external_ids`` (str, or int converted with str()); creates unseen ones."""
        check_node_type(node_type)
        with self._lock:
            before = len(self._ids[node_type])
            out = self._ids[node_type].index(external_ids)
            if len(self._ids[node_type]) != before:
                self._grow_nodes(node_type)
            return out

    def lookup(self, node_type: str, external_ids: Any) -> np.ndarray:
        """Dense ids of ``external_ids``, -1 where unknown; never creates. Shapes: [n] int64."""
        check_node_type(node_type)
        with self._lock:
            return self._ids[node_type].lookup(external_ids)

    def external(self, node_type: str, idx: np.ndarray) -> list[str]:
        """External ids of dense ids ``idx``."""
        check_node_type(node_type)
        with self._lock:
            idx = as_node_index(idx, "idx", node_type, self.num_nodes(node_type))
            return self._ids[node_type].external(idx)

    def num_nodes(self, node_type: str) -> int:
        """Number of known nodes of ``node_type``."""
        return len(self._ids[check_node_type(node_type)])

    def set_features(self, node_type: str, idx: np.ndarray, **columns: np.ndarray) -> None:
        """Set float32 feature columns (each [n] or [n, d]) for nodes ``idx``; NaN = unknown."""
        check_node_type(node_type)
        with self._lock:
            idx = as_node_index(idx, "idx", node_type, self.num_nodes(node_type))
            self._feats[node_type].set(idx, columns)
            self._dirty[node_type][idx] = True  # new inputs: the node's vector changes

    def features(self, node_type: str, column: str, idx: np.ndarray | None = None) -> np.ndarray:
        """Values of one feature column for ``idx`` (all nodes if None). Shapes: [n] or [n, d]."""
        check_node_type(node_type)
        with self._lock:
            if idx is not None:
                idx = as_node_index(idx, "idx", node_type, self.num_nodes(node_type))
            return self._feats[node_type].get(column, idx)

    def feature_columns(self, node_type: str) -> list[str]:
        """Names of the feature columns set for ``node_type``."""
        return self._feats[check_node_type(node_type)].names()

    # -- edges --------------------------------------------------------------------------------
    def add_edges(
        self, edge_type: EdgeType, src: np.ndarray, dst: np.ndarray, ts: np.ndarray, attr: np.ndarray | None = None
    ) -> int:
        """Add a batch of edges; returns how many were new (duplicates on (src, dst, ts) are dropped).

        Everything is validated before anything is applied.

        Shapes:
            src, dst: [n] int dense ids; ts: [n] integer epoch ms; attr: [n] float (only and
            always for types in ``schema.EDGE_ATTR``)
        """
        et = check_edge_type(edge_type)
        src_type, _, dst_type = et
        with self._lock:
            s = as_node_index(src, "src", src_type, self.num_nodes(src_type))
            d = as_node_index(dst, "dst", dst_type, self.num_nodes(dst_type))
            t = as_int_array(ts, "ts")
            if not s.shape[0] == d.shape[0] == t.shape[0]:
                raise ValueError(
                    f"src, dst and ts must have equal lengths, got src={s.shape[0]}, dst={d.shape[0]}, ts={t.shape[0]}"
                )
            n = t.shape[0]
            if n and int(t.min()) < 0:
                i = int(np.argmin(t))
                raise ValueError(f"ts[{i}] = {int(t[i])} is negative; timestamps are epoch milliseconds")
            a = self._check_attr(et, attr, n)
            if n == 0:
                return 0
            return self._append(et, s.astype(np.int32), d.astype(np.int32), t, a)

    @staticmethod
    def _check_attr(et: EdgeType, attr: Any, n: int) -> np.ndarray | None:
        name = "-".join(et)
        if et not in EDGE_ATTR:
            if attr is not None:
                raise ValueError(f"attr must be None for edge type {name}, which carries no attribute")
            return None
        if attr is None:
            raise ValueError(f"attr ({EDGE_ATTR[et]}) is required for edge type {name}")
        a = as_float_array(attr, f"attr ({EDGE_ATTR[et]})", n)
        if a.ndim != 1:
            raise ValueError(f"attr ({EDGE_ATTR[et]}) must be 1-D, got shape {a.shape}")
        return a

    def _append(self, et: EdgeType, s: np.ndarray, d: np.ndarray, t: np.ndarray, a: np.ndarray | None) -> int:
        ring = self._rings[et]
        batch = prepare(ring, s, d, t, a)
        n = len(batch)
        if n == 0:
            return 0
        ring.append(batch)
        if et in INTERACTIONS:
            self._trending.add(batch.dst, batch.ts)
            self._note_first(batch.src, batch.dst, batch.ts)
        self._dirty[et[0]][batch.src] = True
        self._dirty[et[2]][batch.dst] = True
        self._max_ts = max(self._max_ts, int(batch.ts[-1]))
        return n

    def _note_first(self, users: np.ndarray, content: np.ndarray, ts: np.ndarray) -> None:
        np.minimum.at(self._first[USER], users, ts)
        np.minimum.at(self._first[CONTENT], content, ts)

    def first_ts(self, node_type: str, nodes: np.ndarray, before: int | np.ndarray | None = None) -> np.ndarray:
        """Time of the first interaction of users or content ``nodes`` ever added (eviction
        does not forget it), -1 where there is none or it is not before ``before`` (one time,
        or one per node). The earliest edge before a time is the earliest edge at all when
        any edge is before it, so one number per node answers every time. Shapes: [n] int64."""
        if node_type not in FIRST_SEEN_TYPES:
            raise ValueError(f"first_ts is kept for {list(FIRST_SEEN_TYPES)}, not {node_type!r}")
        with self._lock:
            v = as_node_index(nodes, "nodes", node_type, self.num_nodes(node_type))
            first = self._first[node_type][v]
            known = first != NO_TS
            if before is not None:
                known &= first < _times(before, v)
            return np.where(known, first, -1)

    def _relation(self, edge_type: EdgeType) -> tuple[EdgeRing, bool]:
        """The ring holding ``edge_type`` and whether its source is the ring's source side."""
        et = cast(EdgeType, tuple(edge_type))
        if et in self._rings:
            return self._rings[et], True
        if len(et) == 3 and reverse(et) in self._rings:
            return self._rings[reverse(et)], False
        raise ValueError(f"unknown edge type {edge_type!r}; expected a schema edge type or its reverse")

    def neighbors(
        self, edge_type: EdgeType, node: int, *, before: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Out-neighbours of ``node`` along ``edge_type`` (forward or reverse), oldest first.

        Shapes: -> neighbour idx [k] int64, ts [k] int64, attr [k] float32 (NaN if none)
        """
        ring, out = self._relation(edge_type)
        with self._lock:
            nt = edge_type[0]
            v = as_node_index(np.asarray([node]).ravel(), "node", nt, self.num_nodes(nt))
            _, e = chains.edges_of(ring, out, v, before)
            ts = ring.ts_at(e)
            order = np.lexsort((e, ts))
            e, ts = e[order], ts[order]
            pos = ring.pos(e)
            nbr = (ring.dst if out else ring.src)[pos].astype(np.int64)
            return nbr, ts, ring.attr_at(pos)

    def degree(self, edge_type: EdgeType, nodes: np.ndarray, before: int | np.ndarray | None = None) -> np.ndarray:
        """Live out-degree of ``nodes`` along ``edge_type`` (forward or reverse), counting only
        edges with ts < ``before`` if given (one time, or one per node). Shapes: [n] int64."""
        ring, out = self._relation(edge_type)
        with self._lock:
            nt = edge_type[0]
            v = as_node_index(nodes, "nodes", nt, self.num_nodes(nt))
            if before is None:
                return (ring.out if out else ring.inn).deg[v].astype(np.int64)
            return self._timed_index(edge_type, ring, out).degree(v, _times(before, v))

    def last_ts(self, edge_type: EdgeType, nodes: np.ndarray, before: int | np.ndarray | None = None) -> np.ndarray:
        """Newest live edge time of ``nodes`` along ``edge_type`` (forward or reverse), only
        edges with ts < ``before`` if given (one time, or one per node); -1 where there is
        none. Shapes: [n] int64."""
        ring, out = self._relation(edge_type)
        with self._lock:
            nt = edge_type[0]
            v = as_node_index(nodes, "nodes", nt, self.num_nodes(nt))
            if before is None:
                return ring.newest_ts(out, v)
            return self._timed_index(edge_type, ring, out).last_ts(v, _times(before, v))

    def _timed_index(self, edge_type: EdgeType, ring: EdgeRing, out: bool, *,
                     whole: bool = False) -> TimedIndex | GrowingIndex:
        # built on first use after the live range moved; appends never pay for it, and a
        # query after a batch sorts only the batch's edges (timed.timed_view)
        key = (cast(EdgeType, tuple(edge_type)), out)
        hit = self._timed[key] = timed_view(self._timed.get(key), ring, out, whole=whole)
        return hit

    def num_edges(self, edge_type: EdgeType | None = None) -> int:
        """Live forward edges of ``edge_type`` (all types if None)."""
        if edge_type is None:
            return sum(r.size for r in self._rings.values())
        return self._relation(edge_type)[0].size

    def seen(self, user: int, limit: int | None = None) -> np.ndarray:
        """Distinct content ids ``user`` interacted with (any of ``schema.INTERACTIONS``), in
        ascending order; with ``limit``, the ``limit`` most recent ones, newest first (ties:
        smaller id first). Shapes: [k]."""
        return self.seen_many(np.asarray([user]).ravel(), limit)[0]

    def seen_many(self, users: np.ndarray, limit: int | None = None) -> list[np.ndarray]:
        """:meth:`seen` of each user, in one pass over their edges (the updater asks for
        hundreds at a time). Shapes: users [m] -> m arrays."""
        with self._lock:
            v = as_node_index(np.asarray(users).ravel(), "users", USER, self.num_nodes(USER))
            if not len(v):
                return []
            n_content = max(self.num_nodes(CONTENT), 1)
            walkers, content, times = [], [], []
            for et in INTERACTIONS:
                ring = self._rings[et]
                if len(v) > SEEN_BATCH_WALK:
                    w, e = chains.edges_of(ring, True, v)
                else:  # a chain alone is walked with scalar steps; a batch takes as many numpy
                    # steps as its longest chain has edges, worth it only for many users
                    parts = [chains.edges_of(ring, True, v[j:j + 1])[1] for j in range(len(v))]
                    e = np.concatenate(parts)
                    w = np.repeat(np.arange(len(v)), [len(x) for x in parts])
                p = ring.pos(e)
                walkers.append(w)
                content.append(ring.dst[p])
                times.append(ring.ts_at(e, p))
        w, item, ts = np.concatenate(walkers), np.concatenate(content).astype(np.int64), np.concatenate(times)
        if limit is None:
            order = np.lexsort((item, w))  # by user, then item
        else:
            order = np.lexsort((item, -ts, w))  # by user, newest first, then item
        w, item = w[order], item[order]
        # the first row of each (user, item) pair: its newest interaction
        _, first = np.unique(w * n_content + item, return_index=True)
        first.sort()
        w, item = w[first], item[first]
        counts = np.bincount(w, minlength=len(v))
        if limit is not None:
            starts = np.repeat(np.cumsum(counts) - counts, counts)
            keep = np.arange(len(w)) - starts < max(0, int(limit))
            w, item = w[keep], item[keep]
            counts = np.bincount(w, minlength=len(v))
        return np.split(item, np.cumsum(counts)[:-1])

    def take_dirty(self) -> dict[str, np.ndarray]:
        """Node ids per type touched by edges or feature updates since the last call; resets the sets."""
        with self._lock:
            out = {}
            for nt, mask in self._dirty.items():
                out[nt] = np.flatnonzero(mask).astype(np.int64)
                mask[:] = False
            return out

    def trending(self, k: int, now_ms: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` content by exponentially decayed interaction count at ``now_ms`` (default max_ts).

        Shapes: -> content idx [<=k] int64, score [<=k] float64, descending
        """
        with self._lock:
            now = self._max_ts if now_ms is None else int(now_ms)
            return self._trending.top(int(k), now, self.num_nodes(CONTENT))

    def set_trending_half_life(self, half_life_ms: int) -> None:
        """Change the trending half-life, recomputing the scores from the live interaction
        edges (what was evicted before no longer counts)."""
        with self._lock:
            self._trending = Trending(int(half_life_ms))
            self._trending.resize(self.num_nodes(CONTENT))
            self.trending_half_life_ms = int(half_life_ms)
            for _, content, ts in self._live_interactions():
                self._trending.add(content.astype(np.int64), ts)

    def _live_interactions(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(user, content, ts) of the live interaction edges, one memory run at a time."""
        for et in INTERACTIONS:
            ring = self._rings[et]
            for e0, p0, p1 in ring.live_slices():
                yield ring.src[p0:p1], ring.dst[p0:p1], ring.ts_at(np.arange(e0, e0 + p1 - p0, dtype=np.int64))

    def evict(self, now_ms: int | None = None) -> int:
        """Apply retention by dropping whole oldest segments; returns the number of edges
        dropped. The nodes at either end of a dropped edge become dirty (their neighbourhood,
        and so their vector, changed)."""
        with self._lock:
            rings = {et: self._rings[et] for et in self.evict_types}
            dropped = 0

            def drop(et: EdgeType) -> int:
                src, dst = rings[et].evict_oldest()
                self._dirty[et[0]][src] = True
                self._dirty[et[2]][dst] = True
                return len(src)

            now = self._max_ts if now_ms is None else int(now_ms)
            if self.retention_ms is not None and now >= 0:
                cutoff = now - self.retention_ms
                for et, ring in rings.items():
                    while ring.size and ring.oldest_max_ts() < cutoff:
                        dropped += drop(et)
            if self.max_edges is not None:
                while sum(r.size for r in rings.values()) > self.max_edges:
                    oldest = min((e for e, r in rings.items() if r.size), key=lambda e: rings[e].oldest_max_ts())
                    dropped += drop(oldest)
            return dropped

    @property
    def max_ts(self) -> int:
        """Largest edge timestamp seen (the event-time watermark), or -1."""
        return self._max_ts

    def nbytes(self) -> dict[str, int]:
        """Bytes held in arrays: edges used / allocated, per-node chain state, features."""
        with self._lock:
            used = sum(r.size * r.row_bytes for r in self._rings.values())
            alloc = sum(r.rows.nbytes for r in self._rings.values())
            sides = [s for r in self._rings.values() for s in (r.out, r.inn)]
            node = sum(a.nbytes for s in sides for a in (s.head, s.deg))
            feats = sum(a.nbytes for f in self._feats.values() for a in f.state().values())
            return {"edges_used": used, "edges_allocated": alloc, "node_chains": node, "features": feats}

    # -- snapshots ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], watermark: Mapping[str, int]) -> None:
        """Write a crash-safe snapshot (temp file then ``os.replace``) including ``watermark``."""
        with self._lock:
            snapshot.save(self, path, watermark)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> tuple[GraphStore, dict[str, int]]:
        """Restore a store saved with ``save``; returns it and the saved watermark."""
        return snapshot.load(cls, path)

    def __repr__(self) -> str:
        nodes = ", ".join(f"{nt}={len(m)}" for nt, m in self._ids.items())
        return f"GraphStore(edges={self.num_edges()}, max_ts={self._max_ts}, nodes: {nodes})"


def _times(before: int | np.ndarray, nodes: np.ndarray) -> int | np.ndarray:
    """``before`` as one int, or as int64 [n] aligned with ``nodes`` (checked)."""
    if np.ndim(before) == 0:
        return int(before)
    times = np.asarray(before, dtype=np.int64)
    if times.shape != nodes.shape:
        raise ValueError(f"before has shape {times.shape}; one time per node needs {nodes.shape}")
    return times
