"""Reading the per-node edge chains of an EdgeRing, vectorised across many nodes at once.

``edges_of`` returns every live edge of some nodes and ``exists`` tells which (src, dst, ts)
triples are already live. Results come as parallel (walker, edge id) arrays, where walker
indexes the input nodes. Choosing k per node (most recent, uniform) is in ``selection``.

Nodes of high degree are served by one scan over the live edges instead of a chain walk, so
no call loops more than ``scan_threshold`` times in Python.
"""

from __future__ import annotations

import numpy as np

from graph_store.segments import EdgeRing, Side, group_by_node

EMPTY = np.zeros(0, dtype=np.int64)

#: Degree from which a linear scan replaces a step-by-step chain walk (at least).
SCAN_MIN_DEGREE = 512


def side_of(ring: EdgeRing, out: bool) -> Side:
    """The source-side (``out``) or target-side chain state of ``ring``."""
    return ring.out if out else ring.inn


def scan_threshold(ring: EdgeRing) -> int:
    """Degree above which one linear scan beats walking a chain step by step."""
    return max(SCAN_MIN_DEGREE, ring.size // 8192)


def cat(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate int64 parts (empty list -> empty array)."""
    return np.concatenate(parts) if parts else EMPTY


def _walk_one(ring: EdgeRing, out: bool, head: int) -> list[int]:
    """Edge ids of one chain with scalar steps (numpy call overhead dominates short walks)."""
    enc = ring.pout if out else ring.pin
    lo, mask, cap = ring.lo, ring.mask, ring.cap
    eids = []
    cur = head
    while cur >= lo:
        eids.append(cur)
        cur -= int(enc[cur & mask if mask is not None else cur % cap]) >> 1
    return eids


def _walk_all(ring: EdgeRing, out: bool, heads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if heads.shape[0] <= 4:
        per = [_walk_one(ring, out, int(h)) for h in heads.tolist()]
        walker = np.repeat(np.arange(heads.shape[0], dtype=np.int64), [len(p) for p in per])
        return walker, np.array([e for p in per for e in p], dtype=np.int64)
    active = np.flatnonzero(heads >= ring.lo)
    cur = heads[active]
    ws, es = [], []
    while active.size:
        ws.append(active)
        es.append(cur)
        cur, alive, _ = ring.back(out, cur, ring.pos(cur))
        active, cur = active[alive], cur[alive]
    return cat(ws), cat(es)


def hits_of(ring: EdgeRing, out: bool, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index into distinct ``nodes``, edge id) of every live edge of ``nodes``, in id order."""
    flag = np.zeros(side_of(ring, out).head.shape[0], dtype=bool)
    flag[nodes] = True
    lut = np.full(flag.shape[0], -1, dtype=np.int32)
    lut[nodes] = np.arange(nodes.shape[0], dtype=np.int32)
    col = ring.src if out else ring.dst
    us, es = [], []
    for e0, p0, p1 in ring.live_slices():
        hits = np.flatnonzero(flag[col[p0:p1]])
        us.append(lut[col[hits + p0]])
        es.append(hits + e0)
    return cat(us), cat(es)


def _scan(ring: EdgeRing, out: bool, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All live edges of ``nodes`` (may repeat) by scanning the ring once."""
    uniq, inv = np.unique(nodes, return_inverse=True)
    u_idx, eids = hits_of(ring, out, uniq)
    order = group_by_node(u_idx.astype(np.int32))
    counts = np.bincount(u_idx, minlength=uniq.shape[0])
    starts = np.cumsum(counts) - counts
    c = counts[inv]
    walker = np.repeat(np.arange(nodes.shape[0]), c)
    offs = np.repeat(starts[inv] - (np.cumsum(c) - c), c) + np.arange(walker.shape[0])
    return walker, eids[order][offs]


def edges_of(
    ring: EdgeRing, out: bool, nodes: np.ndarray, before: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every live edge of each node (with ts < ``before`` if set), in no particular order.

    Shapes:
        nodes: [m] -> walker: [E] int64 (index into nodes), eid: [E] int64
    """
    side = side_of(ring, out)
    # a few walkers step through chains with scalar code, cheaper than a scan up to ~size/64
    limit = ring.size // 64 if nodes.shape[0] <= 4 else scan_threshold(ring)
    big = side.deg[nodes] > max(limit, SCAN_MIN_DEGREE)
    ws, es = [], []
    small = np.flatnonzero(~big)
    if small.size:
        w, e = _walk_all(ring, out, side.head[nodes[small]])
        ws.append(small[w])
        es.append(e)
    large = np.flatnonzero(big)
    if large.size:
        w, e = _scan(ring, out, nodes[large])
        ws.append(large[w])
        es.append(e)
    walker, eids = cat(ws), cat(es)
    if before is not None and eids.size:
        keep = ring.ts_at(eids) < before
        walker, eids = walker[keep], eids[keep]
    return walker, eids


def exists(ring: EdgeRing, src: np.ndarray, dst: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Which edges (src, dst, ts) are already live in ``ring``. Shapes: [n] each -> [n] bool."""
    found = np.zeros(src.shape[0], dtype=bool)
    use_out = ring.out.deg[src] <= ring.inn.deg[dst]
    for out, idx in ((True, np.flatnonzero(use_out)), (False, np.flatnonzero(~use_out))):
        if idx.size:
            node, other = (src[idx], dst[idx]) if out else (dst[idx], src[idx])
            found[idx] = _exists_dir(ring, out, node, other, ts[idx])
    return found


def _exists_dir(ring: EdgeRing, out: bool, node: np.ndarray, other: np.ndarray, t: np.ndarray) -> np.ndarray:
    col = ring.dst if out else ring.src
    found = np.zeros(node.shape[0], dtype=bool)
    heads = side_of(ring, out).head[node]
    active = np.flatnonzero(heads >= ring.lo)
    cur = heads[active]
    for _ in range(scan_threshold(ring)):
        if active.size == 0:
            return found
        pos = ring.pos(cur)
        tt = ring.ts_at(cur, pos)
        ta = t[active]
        hit = (tt == ta) & (col[pos] == other[active])
        found[active[hit]] = True
        nxt, alive, late = ring.back(out, cur, pos)
        # a non-late edge older than ta bounds everything further back
        go = alive & ~hit & ~(~late & (tt < ta)) & (ring.pmax_at(pos) >= ta)
        active, cur = active[go], nxt[go]
    if active.size:  # long chains: compare against all edges of those nodes at once
        w, e = edges_of(ring, out, node[active])
        table = (w << 31) | col[ring.pos(e)]
        query = (np.arange(active.shape[0], dtype=np.int64) << 31) | other[active]
        found[active] = rows_isin(query, t[active], table, ring.ts_at(e))
    return found


def rows_isin(qa: np.ndarray, qb: np.ndarray, ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
    """Whether each query row (qa, qb) equals some table row (ta, tb). Shapes: [n],[n],[m],[m] -> [n]."""
    a = np.concatenate([ta, qa])
    b = np.concatenate([tb, qb])
    tag = np.concatenate([np.zeros(ta.shape[0], np.int8), np.ones(qa.shape[0], np.int8)])
    order = np.lexsort((tag, b, a))
    a, b, tag = a[order], b[order], tag[order]
    n = a.shape[0]
    new = np.ones(n, dtype=bool)
    new[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    run_start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    hit_sorted = (tag == 1) & (tag[run_start] == 0)
    out = np.empty(n, dtype=bool)
    out[order] = hit_sorted
    return out[ta.shape[0]:]
