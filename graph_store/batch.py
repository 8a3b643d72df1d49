"""Preparing a batch of new edges for one EdgeRing: time order, de-duplication, late flags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graph_store import chains
from graph_store.segments import EdgeRing, group_by_node


@dataclass
class Batch:
    """New edges ready to append: sorted by ts (stable), none equal to a live edge or each other.

    Shapes: every field [n]; src, dst int32; ts int64; attr float32 or None; order_* int64
    (stable argsort of src / dst); late_* bool (ts below the node's newest live timestamp).
    """

    src: np.ndarray
    dst: np.ndarray
    ts: np.ndarray
    attr: np.ndarray | None
    order_out: np.ndarray
    order_in: np.ndarray
    late_out: np.ndarray
    late_in: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def _newest_per_edge(ring: EdgeRing, out: bool, nodes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each edge's node's newest live timestamp, computed once per distinct node."""
    sn = nodes[order]
    first = np.empty(sn.shape[0], dtype=bool)
    first[0] = True
    np.not_equal(sn[1:], sn[:-1], out=first[1:])
    newest = ring.newest_ts(out, sn[first])
    per_edge = np.empty(sn.shape[0], dtype=np.int64)
    per_edge[order] = newest[np.cumsum(first) - 1]
    return per_edge


def _first_of_duplicates(s: np.ndarray, d: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Mask keeping the first of each group of equal (s, d, t) in a batch sorted by t."""
    n = t.shape[0]
    keep = np.ones(n, dtype=bool)
    eq = t[1:] == t[:-1]
    if not eq.any():
        return keep
    in_run = np.zeros(n, dtype=bool)
    in_run[1:] |= eq
    in_run[:-1] |= eq
    c = np.flatnonzero(in_run)
    key = (s[c].astype(np.int64) << 31) | d[c]
    tc = t[c]
    o = np.lexsort((c, key, tc))
    same = (key[o][1:] == key[o][:-1]) & (tc[o][1:] == tc[o][:-1])
    keep[c[o[1:][same]]] = False
    return keep


def _compact_order(order: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The argsort restricted to kept rows, renumbered to the compacted positions."""
    newpos = np.cumsum(keep) - 1
    return newpos[order[keep[order]]]


def prepare(ring: EdgeRing, s: np.ndarray, d: np.ndarray, t: np.ndarray, a: np.ndarray | None) -> Batch:
    """Sort, de-duplicate (within the batch and against ``ring``) and flag late edges.

    Shapes:
        s, d: [n] int32 valid node ids; t: [n] int64; a: [n] float32 or None
    """
    if t.shape[0] > 1 and not bool((t[1:] >= t[:-1]).all()):
        o = np.argsort(t, kind="stable")  # timsort: fast on the nearly sorted batches streams send
        s, d, t = s[o], d[o], t[o]
        a = a[o] if a is not None else None
    keep = _first_of_duplicates(s, d, t)
    if not keep.all():
        s, d, t = s[keep], d[keep], t[keep]
        a = a[keep] if a is not None else None
    if t.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Batch(s, d, t, a, empty, empty, empty.astype(bool), empty.astype(bool))
    order_out, order_in = group_by_node(s), group_by_node(d)
    newest_out = _newest_per_edge(ring, True, s, order_out)
    newest_in = _newest_per_edge(ring, False, d, order_in)
    maybe = np.flatnonzero((t <= newest_out) & (t <= newest_in))
    if maybe.size:
        dup = chains.exists(ring, s[maybe], d[maybe], t[maybe])
        if dup.any():
            keep = np.ones(t.shape[0], dtype=bool)
            keep[maybe[dup]] = False
            s, d, t = s[keep], d[keep], t[keep]
            a = a[keep] if a is not None else None
            newest_out, newest_in = newest_out[keep], newest_in[keep]
            order_out, order_in = _compact_order(order_out, keep), _compact_order(order_in, keep)
    return Batch(s, d, t, a, order_out, order_in, t < newest_out, t < newest_in)
