"""Choosing up to k neighbours per node: the most recent ones, or uniformly without replacement.

``recent`` returns a ``Picked`` (walker, edge id, ts, neighbour, attribute) because it reads
them all in one pass; ``uniform`` returns (walker, edge id) like ``chains`` and ``picked``
gathers the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graph_store._arrays import ranks_below
from graph_store.chains import EMPTY, cat, edges_of, hits_of, scan_threshold, side_of
from graph_store.segments import EdgeRing, group_by_node

#: A ``recent`` walk takes at most ``WALK_STEPS_PER_K * k + WALK_EXTRA_STEPS`` steps.
WALK_STEPS_PER_K = 4
WALK_EXTRA_STEPS = 64
#: ``uniform`` keeps keys below ``(UNIFORM_OVERSAMPLE * k + UNIFORM_EXTRA) / degree`` in its scan.
UNIFORM_OVERSAMPLE = 2.0
UNIFORM_EXTRA = 8.0
#: First chunk of the backward scan in ``_recent_scan`` (doubles each round).
SCAN_CHUNK = 4096


def first_k(group: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """Positions (into the unsorted arrays) of the first ``k`` of each group in ``order``."""
    g = group[order]
    n = g.shape[0]
    if n == 0:
        return order
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(g[1:], g[:-1], out=new[1:])
    start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    return order[np.arange(n) - start < k]


def _top_k(walker: np.ndarray, eids: np.ndarray, ts: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest (ts, eid) per walker."""
    return first_k(walker, np.lexsort((-eids, -ts, walker)), k)


@dataclass
class Picked:
    """Chosen edges as parallel arrays: walker (index into the queried nodes), edge id, ts,
    the neighbour at the other end, and the attribute (None for types without one).

    Shapes: every field [E]; walker, eid, ts int64; nbr int32; attr float32.
    """

    walker: np.ndarray
    eid: np.ndarray
    ts: np.ndarray
    nbr: np.ndarray
    attr: np.ndarray | None

    def take(self, idx: np.ndarray) -> Picked:
        """The rows ``idx`` (indices or a boolean mask)."""
        attr = self.attr[idx] if self.attr is not None else None
        return Picked(self.walker[idx], self.eid[idx], self.ts[idx], self.nbr[idx], attr)

    @staticmethod
    def concat(parts: list[Picked]) -> Picked:
        """Rows of all ``parts`` in order (at least one part)."""
        attr = None if parts[0].attr is None else np.concatenate([p.attr for p in parts])
        walker, eid, ts, nbr = (np.concatenate([getattr(p, f) for p in parts]) for f in ("walker", "eid", "ts", "nbr"))
        return Picked(walker, eid, ts, nbr, attr)


def picked(ring: EdgeRing, out: bool, walker: np.ndarray, eids: np.ndarray, ts: np.ndarray | None = None) -> Picked:
    """Gather timestamps, neighbours and attributes of chosen edges."""
    pos = ring.pos(eids)
    ts = ring.ts_at(eids, pos) if ts is None else ts
    attr = ring.attr[pos] if ring.attr is not None else None
    return Picked(walker, eids, ts, (ring.dst if out else ring.src)[pos], attr)


def recent(ring: EdgeRing, out: bool, nodes: np.ndarray, k: int, before: int | None = None) -> Picked:
    """Up to ``k`` edges per node with the largest (ts, insertion) among those with ts < ``before``.

    Each chain is walked back until it holds k non-late keepers (each bounds every older edge,
    see ``segments``) or ends; walkers that also met late keepers are trimmed to the top k.
    Chains that would need more than ``WALK_STEPS_PER_K * k + WALK_EXTRA_STEPS`` steps
    (typically a busy node and a ``before`` in the past) are answered by ``_recent_scan``.
    The neighbour and attribute are read in the same step as the timestamp, while the edge's
    row is in cache. ``nodes`` must be distinct.

    Shapes:
        nodes: [m] -> Picked with [E] fields
    """
    if k < 0:
        w, e = edges_of(ring, out, nodes, before)
        return picked(ring, out, w, e)
    side = side_of(ring, out)
    heads = side.head[nodes]
    live = heads >= ring.lo
    if k == 0 or not live.any():
        return picked(ring, out, EMPTY, EMPTY)
    to_scan = EMPTY
    max_steps = WALK_STEPS_PER_K * k + WALK_EXTRA_STEPS
    if before is not None:  # busy nodes whose newest edge is past the cutoff: scan instead
        busy = np.flatnonzero(live & (side.deg[nodes] > max_steps))
        busy = busy[ring.ts_at(heads[busy]) >= before]
        live[busy] = False
        to_scan = busy
    nbr_col = ring.dst if out else ring.src
    attr_col = ring.attr
    active = np.flatnonzero(live)
    cur = heads[active]
    # non-late keepers so far (without ``before``: minus the late ones, plus the steps taken)
    n_in = np.zeros(active.shape[0], dtype=np.int64)
    extra = np.zeros(nodes.shape[0], dtype=bool)  # walker kept a late edge: trim at the end
    steps: list[Picked] = []
    enc_col = ring.pout if out else ring.pin
    for s in range(max_steps):
        if active.size == 0:
            break
        pos = ring.pos(cur)
        step = Picked(active, cur, ring.ts_at(cur, pos), nbr_col[pos], attr_col[pos] if attr_col is not None else None)
        late = enc_col[pos]
        nxt = cur - (late >> 1)
        alive = nxt >= ring.lo
        late &= 1
        if before is None:  # every edge is a keeper: n_in = steps taken - late ones
            steps.append(step)
            if late.any():
                n_in -= late
                extra[active[late == 1]] = True
            if s + 1 >= k:  # nobody can hold k before step k
                alive &= n_in + (s + 1) < k
        else:
            keep = step.ts < before
            steps.append(step.take(keep))
            late = (late == 1) & keep
            n_in += keep & ~late
            if late.any():
                extra[active[late]] = True
            alive &= n_in < k
        if alive.all():
            cur = nxt
        else:
            active, cur, n_in = active[alive], nxt[alive], n_in[alive]
    got = Picked.concat(steps) if steps else picked(ring, out, EMPTY, EMPTY)
    if active.size:  # too long: drop what these walkers collected and scan for them
        stuck = np.zeros(nodes.shape[0], dtype=bool)
        stuck[active] = True
        got = got.take(np.flatnonzero(~stuck[got.walker]))
        to_scan = np.concatenate([to_scan, active])
    if to_scan.size:
        w2, e2, t2 = _recent_scan(ring, out, nodes[to_scan], k, before)
        got = Picked.concat([got, picked(ring, out, to_scan[w2], e2, t2)])
        extra[to_scan] = True
    if extra.any():  # keep the top k of walkers that also collected late edges
        cut = np.flatnonzero(extra[got.walker])
        keep = np.ones(got.eid.shape[0], dtype=bool)
        keep[cut] = False
        keep[cut[_top_k(got.walker[cut], got.eid[cut], got.ts[cut], k)]] = True
        if not keep.all():
            got = got.take(keep)
    return got


def _recent_scan(
    ring: EdgeRing, out: bool, nodes: np.ndarray, k: int, before: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keeper edges of distinct ``nodes`` found by scanning edge ids backwards in growing chunks.

    The scan starts at the newest segment that can hold a timestamp < ``before`` and drops
    a node once it has k non-late keepers, so busy nodes finish after a short stretch. The
    result is a superset of each node's top k (trimmed by the caller).

    Shapes: nodes [m] -> walker [E], eid [E], ts [E] (int64)
    """
    col = ring.src if out else ring.dst
    enc = ring.pout if out else ring.pin
    lut = np.full(side_of(ring, out).head.shape[0], -1, dtype=np.int64)
    lut[nodes] = np.arange(nodes.shape[0])
    n_in = np.zeros(nodes.shape[0], dtype=np.int64)
    left = nodes.shape[0]
    e_hi = ring.last_eid_before(before) if before is not None else ring.hi
    chunk = SCAN_CHUNK
    ws, es, tss = [], [], []
    while e_hi > ring.lo and left:
        e_lo = max(ring.lo, e_hi - chunk)
        eids = np.arange(e_lo, e_hi, dtype=np.int64)
        pos = ring.pos(eids)
        w = lut[col[pos]]
        idx = np.flatnonzero(w >= 0)
        if idx.size:
            e, w, p = eids[idx], w[idx], pos[idx]
            ts = ring.ts_at(e, p)
            keep = ts < before if before is not None else np.ones(ts.shape[0], dtype=bool)
            ws.append(w[keep])
            es.append(e[keep])
            tss.append(ts[keep])
            n_in += np.bincount(w[keep & ((enc[p] & 1) == 0)], minlength=nodes.shape[0])
            done = np.flatnonzero((n_in >= k) & (lut[nodes] >= 0))
            lut[nodes[done]] = -1
            left -= done.shape[0]
        e_hi = e_lo
        chunk = min(2 * chunk, 1 << 20)
    return cat(ws), cat(es), cat(tss)


def uniform(
    ring: EdgeRing, out: bool, nodes: np.ndarray, k: int, before: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``k`` edges per node drawn uniformly without replacement (ts < ``before`` if set).

    Busy nodes are sampled inside one scan: every edge gets a uniform key, only keys below
    about (2k + 8) / degree are kept (see ``UNIFORM_OVERSAMPLE``), and the k smallest kept keys win -- the same k-subset
    as sorting all keys, unless fewer than k survive, in which case the node is redrawn with
    every edge kept. ``nodes`` must be distinct.

    Shapes:
        nodes: [m] -> walker: [E] int64, eid: [E] int64
    """
    side = side_of(ring, out)
    big = side.deg[nodes] > scan_threshold(ring)
    if k < 0 or not big.any():
        walker, eids = edges_of(ring, out, nodes, before)
        return (walker, eids) if k < 0 else _pick(walker, eids, nodes.shape[0], k, rng)
    small, large = np.flatnonzero(~big), np.flatnonzero(big)
    walker, eids = edges_of(ring, out, nodes[small], before)
    w1, e1 = _pick(walker, eids, small.shape[0], k, rng)
    w2, e2 = _uniform_scan(ring, out, nodes[large], k, before, rng)
    return np.concatenate([small[w1], large[w2]]), np.concatenate([e1, e2])


def _uniform_scan(
    ring: EdgeRing, out: bool, nodes: np.ndarray, k: int, before: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    deg = side_of(ring, out).deg[nodes].astype(np.float64)
    thr = np.minimum(1.0, (UNIFORM_OVERSAMPLE * k + UNIFORM_EXTRA) / np.maximum(deg, 1.0))
    walker, eids = hits_of(ring, out, nodes)
    key = rng.random(int(walker.shape[0]))
    sel = np.flatnonzero(key < thr[walker])
    walker, eids, key = walker[sel], eids[sel], key[sel]
    if before is not None:
        sel = np.flatnonzero(ring.ts_at(eids) < before)
        walker, eids, key = walker[sel], eids[sel], key[sel]
    short = np.flatnonzero((np.bincount(walker, minlength=nodes.shape[0]) < k) & (thr < 1.0))
    if short.size:  # too few survivors: redraw those nodes from all their edges
        redo = np.zeros(nodes.shape[0], dtype=bool)
        redo[short] = True
        sel = np.flatnonzero(~redo[walker])
        w2, e2 = edges_of(ring, out, nodes[short], before)
        walker = np.concatenate([walker[sel], short[w2]])
        eids = np.concatenate([eids[sel], e2])
        key = np.concatenate([key[sel], rng.random(e2.shape[0])])
    sel = first_k(walker, np.lexsort((key, walker)), k)
    return walker[sel], eids[sel]


def _pick(
    walker: np.ndarray, eids: np.ndarray, m: int, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """k of each walker's edges uniformly without replacement (all if it has at most k)."""
    if walker.size == 0:
        return walker, eids
    order = group_by_node(walker.astype(np.int32))
    counts = np.bincount(walker, minlength=m)
    starts = np.cumsum(counts) - counts
    small = np.flatnonzero(counts <= k)
    big = np.flatnonzero(counts > k)
    picks = [order[np.repeat(starts[small], counts[small]) + ranks_below(counts[small])]]
    if big.size:
        picks.append(order[(starts[big][:, None] + _floyd(counts[big], k, rng)).ravel()])
    sel = np.concatenate(picks)
    return walker[sel], eids[sel]


def _floyd(counts: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct ranks in [0, c) per row (Floyd's algorithm, vectorised over rows). Shapes: [G] -> [G, k]."""
    chosen = np.empty((counts.shape[0], k), dtype=np.int64)
    for j in range(k):
        top = counts - k + j
        r = (rng.random(counts.shape[0]) * (top + 1)).astype(np.int64)
        taken = (chosen[:, :j] == r[:, None]).any(axis=1)
        chosen[:, j] = np.where(taken, top, r)
    return chosen
