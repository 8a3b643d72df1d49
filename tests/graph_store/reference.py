"""A naive dict-of-lists model of GraphStore's edge semantics, for property tests."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from graph_store.schema import EDGE_TYPES, INTERACTIONS, EdgeType, reverse


@dataclass
class RefEdge:
    eid: int
    src: int
    dst: int
    ts: int
    attr: float


def _per_type() -> dict:
    return {et: [] for et in EDGE_TYPES}


@dataclass
class RefGraph:
    """Edges in insertion order per forward type; an edge's segment is ``eid // segment_edges``.

    A batch is stably sorted by ts, then each edge not equal on (src, dst, ts) to a live edge
    (or an earlier one of the batch) gets the next edge id. Eviction drops whole oldest
    segments; a segment's max ts counts every edge ever written to it.
    """

    segment_edges: int
    retention_ms: int | None = None
    max_edges: int | None = None
    evict_types: tuple[EdgeType, ...] = INTERACTIONS
    edges: dict[EdgeType, list[RefEdge]] = field(default_factory=_per_type)
    next_eid: dict[EdgeType, int] = field(default_factory=lambda: {et: 0 for et in EDGE_TYPES})
    seg_max: dict[EdgeType, dict[int, int]] = field(default_factory=lambda: {et: {} for et in EDGE_TYPES})
    max_ts: int = -1

    def add(self, et: EdgeType, src: list[int], dst: list[int], ts: list[int], attr: list[float] | None) -> int:
        order = sorted(range(len(ts)), key=lambda i: ts[i])
        live = {(e.src, e.dst, e.ts) for e in self.edges[et]}
        added = 0
        for i in order:
            key = (src[i], dst[i], ts[i])
            if key in live:
                continue
            live.add(key)
            eid = self.next_eid[et]
            self.next_eid[et] += 1
            a = float(attr[i]) if attr is not None else math.nan
            self.edges[et].append(RefEdge(eid, src[i], dst[i], ts[i], a))
            seg = eid // self.segment_edges
            self.seg_max[et][seg] = max(self.seg_max[et].get(seg, -1), ts[i])
            self.max_ts = max(self.max_ts, ts[i])
            added += 1
        return added

    def out_edges(self, et: EdgeType, node: int, before: int | None = None) -> list[tuple[int, int, float, int]]:
        """(neighbour, ts, attr, eid) of ``node`` along ``et`` (forward or reverse), by (ts, eid)."""
        fwd, out = (et, True) if et in EDGE_TYPES else (reverse(et), False)
        rows = []
        for e in self.edges[fwd]:
            mine, other = (e.src, e.dst) if out else (e.dst, e.src)
            if mine == node and (before is None or e.ts < before):
                rows.append((other, e.ts, e.attr, e.eid))
        return sorted(rows, key=lambda r: (r[1], r[3]))

    def recent(self, et: EdgeType, node: int, k: int, before: int | None = None) -> list[tuple[int, int]]:
        """The k (neighbour, ts) with the largest (ts, eid); all if k < 0."""
        rows = self.out_edges(et, node, before)[::-1]
        return [(r[0], r[1]) for r in (rows if k < 0 else rows[:k])]

    def seen(self, user: int) -> list[int]:
        return sorted({e.dst for et in INTERACTIONS for e in self.edges[et] if e.src == user})

    def seen_recent(self, user: int, limit: int) -> list[int]:
        """The ``limit`` items with the newest interactions of ``user``, newest first (ties: smaller id)."""
        newest: dict[int, int] = {}
        for et in INTERACTIONS:
            for e in self.edges[et]:
                if e.src == user:
                    newest[e.dst] = max(newest.get(e.dst, e.ts), e.ts)
        return sorted(newest, key=lambda d: (-newest[d], d))[:limit]

    def num_edges(self) -> int:
        return sum(len(v) for v in self.edges.values())

    def _oldest_max(self, et: EdgeType) -> int:
        return self.seg_max[et][self.edges[et][0].eid // self.segment_edges]

    def _evict_oldest(self, et: EdgeType) -> int:
        edges = self.edges[et]
        seg = edges[0].eid // self.segment_edges
        n = sum(1 for e in edges if e.eid // self.segment_edges == seg)
        del edges[:n]
        return n

    def evict(self, now: int | None = None) -> int:
        dropped = 0
        now = self.max_ts if now is None else now
        if self.retention_ms is not None and now >= 0:
            for et in self.evict_types:
                while self.edges[et] and self._oldest_max(et) < now - self.retention_ms:
                    dropped += self._evict_oldest(et)
        if self.max_edges is not None:
            while sum(len(self.edges[et]) for et in self.evict_types) > self.max_edges:
                et = min((et for et in self.evict_types if self.edges[et]), key=self._oldest_max)
                dropped += self._evict_oldest(et)
        return dropped
