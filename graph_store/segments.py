"""Edge storage for one forward edge type: a ring of fixed-size segments, both directions indexed.

Each edge is written once: ``src``, ``dst`` (int32), a timestamp relative to its segment's base
(int32), an optional float32 attribute, and two int32 back-pointers, one per direction: the
distance (in edge ids) to the previous edge of the same source node and of the same target
node, shifted left by one (``MAX_DELTA`` when there is none: the live span is kept below it,
so that distance always leads under ``lo``). A node's edges therefore form a backward chain from its head, newest
insertion first, which is what the sampler walks. 20 bytes per edge (24 with an attribute) cover
both directions.

The low bit of a back-pointer says the edge arrived *late* for that node: its timestamp was
below the node's newest timestamp at insertion. An edge that was not late is at least as
recent as every edge of the node inserted before it, so a walk that has k such edges in hand
can stop: nothing further back can beat them. Late edges are simply walked over.

Edge ids are logical and only grow; the physical slot is ``eid % capacity``. Retention drops
whole segments from the old end (GraphJet style): chains simply stop at an id below ``lo``.
Timestamps that do not fit int32 relative to their segment base (a segment spanning more than
about 24 days, as a backfill of years of history does) go to :class:`OverflowTimes`, sorted
arrays read with one vectorised search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from graph_store._arrays import grow

if TYPE_CHECKING:
    from graph_store.batch import Batch

INT32_MAX = np.iinfo(np.int32).max
MAX_DELTA = (1 << 30) - 1  # back-pointers keep one bit for the "arrived late" flag
TS_OVERFLOW = np.iinfo(np.int32).min  # relative-timestamp sentinel: look the edge up in ``overflow``


class OverflowTimes:
    """Absolute timestamps of the edges whose time does not fit their segment, by edge id.

    Edge ids only grow, so appends keep ``eid`` sorted and eviction cuts a prefix; lookups
    are one ``searchsorted`` for a whole batch. Shapes: ``eid``, ``ts`` [n] int64.
    """

    def __init__(self, eid: np.ndarray | None = None, ts: np.ndarray | None = None) -> None:
        self.eid = np.empty(0, np.int64) if eid is None else np.asarray(eid, np.int64)
        self.ts = np.empty(0, np.int64) if ts is None else np.asarray(ts, np.int64)
        self.n = self.eid.shape[0]

    def __len__(self) -> int:
        return self.n

    def add(self, eids: np.ndarray, ts: np.ndarray) -> None:
        """Append entries whose ids are above every id held."""
        k = eids.shape[0]
        self.eid = grow(self.eid, self.n + k, 0)
        self.ts = grow(self.ts, self.n + k, 0)
        self.eid[self.n : self.n + k] = eids
        self.ts[self.n : self.n + k] = ts
        self.n += k

    def drop_below(self, eid: int) -> None:
        cut = int(np.searchsorted(self.eid[: self.n], eid))
        self.eid, self.ts = self.eid[cut : self.n].copy(), self.ts[cut : self.n].copy()
        self.n = self.eid.shape[0]

    def get(self, eids: np.ndarray) -> np.ndarray:
        """Timestamps of ``eids``, every one of which must be held. [m] -> [m] int64."""
        return self.ts[np.searchsorted(self.eid[: self.n], eids)]

    def pairs(self) -> np.ndarray:
        """``[[eid, ts], ...]`` [n, 2] int64 (snapshots)."""
        return np.stack([self.eid[: self.n], self.ts[: self.n]], axis=1)


class Side:
    """Per-node chain state for one direction of one edge type.

    ``head``: id of the node's newest edge (-1 none); ``deg``: its live edge count.

    Shapes: head [node capacity] int64, deg [node capacity] int32.
    """

    __slots__ = ("head", "deg")

    def __init__(self) -> None:
        self.head = np.full(0, -1, dtype=np.int64)
        self.deg = np.zeros(0, dtype=np.int32)

    def ensure(self, n: int) -> None:
        """Room for ``n`` nodes."""
        if n > self.head.shape[0]:
            self.head = grow(self.head, n, -1)
            self.deg = grow(self.deg, n, 0)

    def link(
        self, nodes: np.ndarray, ts: np.ndarray, late: np.ndarray, first_eid: int, order: np.ndarray
    ) -> np.ndarray:
        """Chain a time-sorted batch of new edges (ids ``first_eid + i``) onto their nodes.

        ``order`` is a stable argsort of ``nodes``; ``late`` marks edges older than their
        node's newest edge. Returns the encoded back-pointers ``delta << 1 | late``; a chain's
        first edge gets ``MAX_DELTA``, which always lands below ``lo`` because the live span
        is kept under it.

        Shapes:
            nodes: [n] int32, ts: [n] int64 ascending, late: [n] bool, order: [n] -> [n] int32
        """
        n = nodes.shape[0]
        sn = nodes[order]
        first = np.empty(n, dtype=bool)
        first[0] = True
        np.not_equal(sn[1:], sn[:-1], out=first[1:])
        prev_sorted = np.empty(n, dtype=np.int64)
        prev_sorted[1:] = order[:-1]
        prev_sorted[1:] += first_eid
        starts = np.flatnonzero(first)
        gnodes = sn[starts]
        prev_sorted[starts] = self.head[gnodes]
        prev = np.empty(n, dtype=np.int64)
        prev[order] = prev_sorted
        enc = np.arange(first_eid, first_eid + n, dtype=np.int64)
        enc -= prev
        enc[(prev < 0) | (enc > MAX_DELTA)] = MAX_DELTA  # lands below ``lo``: the chain ends
        enc <<= 1
        enc |= late
        ends = np.empty_like(starts)
        ends[:-1] = starts[1:]
        ends[-1] = n
        self.head[gnodes] = order[ends - 1] + first_eid
        self.deg[gnodes] += (ends - starts).astype(np.int32)
        return enc.astype(np.int32)


def group_by_node(nodes: np.ndarray) -> np.ndarray:
    """A stable argsort of non-negative int32 node ids: LSD radix over two 16-bit digits.

    numpy sorts 16-bit keys with a single-threaded radix sort, which stays fast on a busy
    machine (a multi-threaded sort can stall when a core is taken). Shapes: [n] -> [n] int64.
    """
    order = np.argsort((nodes & 0xFFFF).astype(np.uint16), kind="stable")
    high = (nodes[order] >> 16).astype(np.uint16)
    if high.shape[0] and high.max() > 0:
        order = order[np.argsort(high, kind="stable")]
    return order


class EdgeRing:
    """All edges of one forward edge type; see the module docstring for the layout."""

    def __init__(self, segment_edges: int, has_attr: bool) -> None:
        if segment_edges < 1:
            raise ValueError(f"segment_edges must be >= 1, got {segment_edges}")
        self.seg = segment_edges
        self.pow2 = segment_edges & (segment_edges - 1) == 0
        self.has_attr = has_attr
        self.lo = 0  # oldest live edge id
        self.hi = 0  # next edge id
        self.cap = 0
        self.nseg = 0
        self._alloc(0)
        self.pmax_all = -1  # running max timestamp over every segment written so far
        self.overflow = OverflowTimes()
        self.out = Side()  # chains of source nodes
        self.inn = Side()  # chains of target nodes

    # -- layout -------------------------------------------------------------------------------
    def _alloc(self, nseg: int) -> None:
        cap = nseg * self.seg
        self.nseg, self.cap = nseg, cap
        # One row per edge keeps the fields a walk step reads in one cache line, and one
        # array per ring keeps the partly used tail (huge pages) small.
        self.rows = np.empty((cap, 6 if self.has_attr else 5), dtype=np.int32)
        self.src = self.rows[:, 0]
        self.dst = self.rows[:, 1]
        self.rts = self.rows[:, 2]
        self.pout = self.rows[:, 3]
        self.pin = self.rows[:, 4]
        self.attr = self.rows[:, 5].view(np.float32) if self.has_attr else None
        self.seg_base = np.zeros(nseg, dtype=np.int64)
        self.seg_min = np.zeros(nseg, dtype=np.int64)
        self.seg_max = np.full(nseg, -1, dtype=np.int64)
        self.seg_pmax = np.full(nseg, -1, dtype=np.int64)
        self.mask = cap - 1 if cap and cap & (cap - 1) == 0 else None
        self.shift = self.seg.bit_length() - 1 if self.pow2 else None

    @property
    def row_bytes(self) -> int:
        """Bytes stored per edge (both directions)."""
        return self.rows.shape[1] * self.rows.itemsize

    def pos(self, eids: np.ndarray) -> np.ndarray:
        """Physical slots of logical edge ids. Shapes: [n] -> [n]."""
        if self.mask is not None:
            return eids & self.mask
        return eids % self.cap

    @property
    def size(self) -> int:
        """Live edges."""
        return self.hi - self.lo

    def live_slices(self) -> list[tuple[int, int, int]]:
        """Live edges as (first eid, slot start, slot stop) runs that are contiguous in memory."""
        runs = []
        e = self.lo
        while e < self.hi:
            p = int(e % self.cap)
            n = min(self.hi - e, self.cap - p)
            runs.append((e, p, p + n))
            e += n
        return runs

    def _reserve(self, n: int) -> None:
        first_seg = self.lo // self.seg
        last_seg = (self.hi + n - 1) // self.seg
        need = last_seg - first_seg + 1
        if need <= self.nseg:
            return
        nseg = max(need, 2 * self.nseg, 1)
        if need * self.seg > MAX_DELTA:
            raise ValueError(f"an edge type cannot hold more than {MAX_DELTA} live edges; set retention")
        if self.pow2:
            nseg = 1 << (nseg - 1).bit_length()
        old = self.__dict__.copy()
        self._alloc(nseg)
        s = self.seg
        last_written = (self.hi - 1) // s if self.hi > first_seg * s and old["nseg"] else first_seg - 1
        for g in range(first_seg, last_written + 1):
            so, sn = g % old["nseg"], g % nseg
            self.rows[sn * s : (sn + 1) * s] = old["rows"][so * s : (so + 1) * s]
            for name in ("seg_base", "seg_min", "seg_max", "seg_pmax"):
                getattr(self, name)[sn] = old[name][so]

    # -- writes -------------------------------------------------------------------------------
    def append(self, batch: "Batch") -> None:
        """Append new, deduplicated edges sorted by ``ts`` (stable); see ``Batch``."""
        src, dst, ts, attr = batch.src, batch.dst, batch.ts, batch.attr
        n = src.shape[0]
        if n == 0:
            return
        self._reserve(n)
        hi = self.hi
        pout = self.out.link(src, ts, batch.late_out, hi, batch.order_out)
        pin = self.inn.link(dst, ts, batch.late_in, hi, batch.order_in)
        s = self.seg
        a = 0
        while a < n:
            e = hi + a
            g, off = divmod(e, s)
            b = min(n, a + s - off)
            slot = g % self.nseg
            p = slot * s + off
            q = p + (b - a)
            self.src[p:q] = src[a:b]
            self.dst[p:q] = dst[a:b]
            self.pout[p:q] = pout[a:b]
            self.pin[p:q] = pin[a:b]
            if self.attr is not None and attr is not None:
                self.attr[p:q] = attr[a:b]
            if off == 0:
                self.seg_base[slot] = ts[a]
            base = int(self.seg_base[slot])
            rel = ts[a:b] - base
            if rel[0] <= TS_OVERFLOW or rel[-1] > INT32_MAX:
                bad = (rel <= TS_OVERFLOW) | (rel > INT32_MAX)
                odd = np.flatnonzero(bad)
                self.overflow.add(e + odd, ts[a + odd])
                rel = np.where(bad, TS_OVERFLOW, rel)
            self.rts[p:q] = rel
            self.seg_max[slot] = max(int(self.seg_max[slot]) if off else -1, int(ts[b - 1]))
            self.seg_min[slot] = min(int(self.seg_min[slot]), int(ts[a])) if off else int(ts[a])
            self.pmax_all = max(self.pmax_all, int(ts[b - 1]))
            self.seg_pmax[slot] = self.pmax_all
            a = b
        self.hi = hi + n

    def evict_oldest(self) -> tuple[np.ndarray, np.ndarray]:
        """Drop the oldest (possibly partial) segment; returns the dropped edges' sources and
        targets ([n] int64 each, n = edges dropped)."""
        if self.lo >= self.hi:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        new_lo = min(self.hi, (self.lo // self.seg + 1) * self.seg)
        eids = np.arange(self.lo, new_lo, dtype=np.int64)
        p = self.pos(eids)
        src, dst = self.src[p].astype(np.int64), self.dst[p].astype(np.int64)
        np.subtract.at(self.out.deg, src, 1)
        np.subtract.at(self.inn.deg, dst, 1)
        if self.overflow:
            self.overflow.drop_below(new_lo)
        self.lo = new_lo
        return src, dst

    def oldest_max_ts(self) -> int:
        """Largest timestamp in the oldest live segment (-1 if empty)."""
        if self.lo >= self.hi:
            return -1
        return int(self.seg_max[(self.lo // self.seg) % self.nseg])

    # -- reads --------------------------------------------------------------------------------
    def ts_at(self, eids: np.ndarray, pos: np.ndarray | None = None) -> np.ndarray:
        """Absolute timestamps of live edge ids. Shapes: [n] -> [n] int64."""
        if pos is None:
            pos = self.pos(eids)
        rel = self.rts[pos]
        ts = self.seg_base[self.slot(pos)]
        ts += rel
        if self.overflow:
            odd = np.flatnonzero(rel == TS_OVERFLOW)
            if odd.size:
                ts[odd] = self.overflow.get(eids[odd])
        return ts

    def back(self, out: bool, cur: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Previous edge of each chain, whether it is live, and whether ``cur`` arrived late.

        Shapes: [n] each -> prev [n] int64, alive [n] bool, late [n] bool
        """
        enc = (self.pout if out else self.pin)[pos]
        prev = cur - (enc >> 1)
        return prev, prev >= self.lo, (enc & 1) == 1

    def newest_ts(self, out: bool, nodes: np.ndarray) -> np.ndarray:
        """Largest live timestamp per node (-1 if none): walk back to the first non-late edge.

        Shapes: nodes [m] -> [m] int64
        """
        side = self.out if out else self.inn
        res = np.full(nodes.shape[0], -1, dtype=np.int64)
        cur = side.head[nodes]
        active = np.flatnonzero(cur >= self.lo)
        cur = cur[active]
        while active.size:
            pos = self.pos(cur)
            res[active] = np.maximum(res[active], self.ts_at(cur, pos))
            cur, alive, late = self.back(out, cur, pos)
            go = alive & late
            active, cur = active[go], cur[go]
        return res

    def attr_at(self, pos: np.ndarray) -> np.ndarray:
        """Attributes at physical slots (NaN when the type has none). Shapes: [n] -> [n] float32."""
        if self.attr is None:
            return np.full(pos.shape[0], np.nan, dtype=np.float32)
        return self.attr[pos]

    def last_eid_before(self, before: int) -> int:
        """One past the newest live edge id whose segment may hold a timestamp < ``before``."""
        if self.lo >= self.hi:
            return self.lo
        first, last = self.lo // self.seg, (self.hi - 1) // self.seg
        slots = np.arange(first, last + 1) % self.nseg
        has = np.flatnonzero(self.seg_min[slots] < before)
        if has.size == 0:
            return self.lo
        return min(self.hi, (first + int(has[-1]) + 1) * self.seg)

    def slot(self, pos: np.ndarray) -> np.ndarray:
        """Segment slot of each physical position. Shapes: [n] -> [n]."""
        return pos >> self.shift if self.shift is not None else pos // self.seg

    def pmax_at(self, pos: np.ndarray) -> np.ndarray:
        """Upper bound of every timestamp at or before each slot's segment. Shapes: [n] -> [n]."""
        return self.seg_pmax[self.slot(pos)]
