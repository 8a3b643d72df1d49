"""Per-node edge counts and newest edge times as of a past time (``before``).

The chains answer "now" questions cheaply (``Side.deg``, ``EdgeRing.newest_ts``), but a
count strictly before some time would have to walk every edge newer than it. Training asks
that question for every sampled node of every batch on a graph that does not change, so a
:class:`TimedIndex` sorts one side of a ring's live edges by (node, ts) once, CSR style, and
answers both questions with a vectorised binary search. It is rebuilt lazily when the
ring's live range ``(lo, hi)`` has moved; appends never touch it (the hot path is unchanged).
Online, where every batch appends, :class:`GrowingIndex` keeps the sorted index of the
older edges and sorts only the edges appended since, until they are a sizeable share.
"""

from __future__ import annotations

import numpy as np

from graph_store._arrays import ranks_below
from graph_store.segments import EdgeRing


def first_not_before(ts: np.ndarray, start: np.ndarray, stop: np.ndarray, before: int | np.ndarray) -> np.ndarray:
    """Per range ``[start, stop)`` of the ascending runs in ``ts``, the position of the first
    entry with ts >= ``before`` (one time, or one per range): a binary search run for all
    ranges at once (about log2(longest range) numpy steps). Shapes: [n] -> [n] int64."""
    lo, hi = start.copy(), stop.copy()
    per_range = np.ndim(before) > 0
    while True:
        active = np.flatnonzero(lo < hi)
        if active.size == 0:
            return lo
        mid = (lo[active] + hi[active]) >> 1
        older = ts[mid] < (before[active] if per_range else before)  # type: ignore[index]
        lo[active[older]] = mid[older] + 1
        hi[active[~older]] = mid[~older]


class TimedIndex:
    """One direction of a ring's live edges grouped by node, timestamps ascending per node.

    Shapes: ``offsets`` [n_nodes + 1] int64, ``ts`` [E] int64.
    """

    def __init__(self, ring: EdgeRing, out: bool, lo: int | None = None) -> None:
        """Index the live edges with ids from ``lo`` (default: the oldest live one) on."""
        lo = ring.lo if lo is None else max(int(lo), ring.lo)
        self.stamp = (lo, ring.hi)
        eids = np.arange(lo, ring.hi, dtype=np.int64)
        pos = ring.pos(eids)
        ts = ring.ts_at(eids, pos)
        node = (ring.src if out else ring.dst)[pos].astype(np.int64)
        order = np.lexsort((ts, node))  # stable: equal times keep insertion order
        self.ts = ts[order]
        self.eid = eids[order]
        n = int(node.max()) + 1 if node.size else 0
        self.offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(node, minlength=n), out=self.offsets[1:])

    def _ranges(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.offsets.shape[0] - 1
        inside = nodes < n  # nodes created after the build have no edges in it
        v = np.where(inside, nodes, 0)
        start = np.where(inside, self.offsets[v], 0)
        stop = np.where(inside, self.offsets[np.minimum(v + 1, n)], 0)
        return start, stop

    def first_not_before(self, nodes: np.ndarray, before: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per node, the CSR position of its first edge with ts >= ``before`` and its start.

        ``before`` is one time or one per node ([n] int64). A binary search run for all
        nodes at once (about log2(max degree) numpy steps).
        """
        start, stop = self._ranges(nodes)
        return start, first_not_before(self.ts, start, stop, before)

    def latest(self, nodes: np.ndarray, before: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The up to ``k`` newest edges of each node with ts < its own ``before`` (all if
        ``k`` < 0), as (row in ``nodes``, edge id), newest first per node.

        Shapes: nodes [n], before [n] -> ([E] int64, [E] int64).
        """
        start, cut = self.first_not_before(nodes, before)
        first = start if k < 0 else np.maximum(start, cut - k)
        counts = cut - first
        rows = np.repeat(np.arange(nodes.shape[0], dtype=np.int64), counts)
        # position = cut - 1 - (rank within the node's run)
        return rows, self.eid[np.repeat(cut, counts) - 1 - ranks_below(counts)]

    def degree(self, nodes: np.ndarray, before: int | np.ndarray) -> np.ndarray:
        """Edges with ts < ``before`` per node. Shapes: [n] -> [n] int64."""
        start, cut = self.first_not_before(nodes, before)
        return cut - start

    def last_ts(self, nodes: np.ndarray, before: int | np.ndarray) -> np.ndarray:
        """Newest ts < ``before`` per node, -1 if none. Shapes: [n] -> [n] int64."""
        start, cut = self.first_not_before(nodes, before)
        has = cut > start
        out = np.full(nodes.shape[0], -1, dtype=np.int64)
        out[has] = self.ts[cut[has] - 1]
        return out


class GrowingIndex:
    """A :class:`TimedIndex` of a ring's edges up to some append position plus one of the
    edges appended since (the tail), answering ``degree`` and ``last_ts`` from both. Only
    the tail is sorted again after each batch; :func:`timed_view` rebuilds the whole index
    once the tail is large or the ring has dropped old edges.
    """

    def __init__(self, base: TimedIndex, ring: EdgeRing, out: bool) -> None:
        self.base = base
        self.tail = TimedIndex(ring, out, lo=base.stamp[1])
        self.stamp = (base.stamp[0], ring.hi)

    def degree(self, nodes: np.ndarray, before: int | np.ndarray) -> np.ndarray:
        return self.base.degree(nodes, before) + self.tail.degree(nodes, before)

    def last_ts(self, nodes: np.ndarray, before: int | np.ndarray) -> np.ndarray:
        return np.maximum(self.base.last_ts(nodes, before), self.tail.last_ts(nodes, before))


#: A tail is re-sorted alone while it holds at most this many edges or this share of the base.
TAIL_MIN_EDGES = 65_536
TAIL_SHARE = 0.125


def timed_view(current: TimedIndex | GrowingIndex | None, ring: EdgeRing, out: bool, *,
               whole: bool = False) -> TimedIndex | GrowingIndex:
    """The index answering time queries on ``ring`` now, reusing ``current`` where it can.

    ``whole`` asks for a single :class:`TimedIndex` (what ``latest`` needs)."""
    if current is not None and current.stamp == (ring.lo, ring.hi) and not (whole and isinstance(current, GrowingIndex)):
        return current
    base = current.base if isinstance(current, GrowingIndex) else current
    if base is not None and not whole and base.stamp[0] == ring.lo:  # nothing evicted since
        tail = ring.hi - base.stamp[1]
        if tail <= max(TAIL_MIN_EDGES, TAIL_SHARE * (base.stamp[1] - base.stamp[0])):
            return GrowingIndex(base, ring, out)
    return TimedIndex(ring, out)
