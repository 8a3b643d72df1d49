"""Crash-safe snapshots of a GraphStore: one ``.npz`` of plain arrays plus a JSON header.

No pickled code: ids are UTF-8 bytes with offsets, everything else numeric arrays, and the settings and
watermark are JSON stored as bytes. The file is written to a temporary name, fsynced and then
renamed over the target with ``os.replace``, so a crash leaves either the old or the new file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from graph_store.schema import EDGE_TYPES, NODE_TYPES
from graph_store.segments import EdgeRing, OverflowTimes

if TYPE_CHECKING:
    from graph_store.store import GraphStore

FORMAT_VERSION = 5
#: Older formats still read; 4 lacks first-interaction times (rebuilt from the live edges).
READABLE_FORMATS = (4, 5)
_SIDE_FIELDS = ("head", "deg")
_EDGE_FIELDS = ("src", "dst", "rts", "pout", "pin", "attr")
_SEG_FIELDS = ("seg_base", "seg_min", "seg_max", "seg_pmax")


def _et_key(i: int) -> str:
    return f"e{i}"


def _ring_state(ring: EdgeRing, prefix: str, out: dict[str, np.ndarray]) -> dict[str, int]:
    slices = ring.live_slices()
    for name in _EDGE_FIELDS:
        arr = getattr(ring, name)
        if arr is not None:
            parts = [arr[p0:p1] for _, p0, p1 in slices]
            out[f"{prefix}.{name}"] = np.concatenate(parts) if parts else arr[:0]
    first = ring.lo // ring.seg
    last = (ring.hi - 1) // ring.seg if ring.hi > first * ring.seg else first - 1
    slots = np.arange(first, last + 1, dtype=np.int64) % max(ring.nseg, 1)
    for name in _SEG_FIELDS:
        out[f"{prefix}.{name}"] = getattr(ring, name)[slots]
    for side_name in ("out", "inn"):
        side = getattr(ring, side_name)
        for f in _SIDE_FIELDS:
            out[f"{prefix}.{side_name}.{f}"] = getattr(side, f)
    out[f"{prefix}.overflow"] = ring.overflow.pairs()
    return {"lo": ring.lo, "hi": ring.hi, "pmax_all": ring.pmax_all}


def save(store: GraphStore, path: str | os.PathLike[str], watermark: Mapping[str, int]) -> None:
    """Write ``store`` and ``watermark`` to ``path`` atomically (caller holds the store lock)."""
    wm = {}
    for key, value in watermark.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise ValueError(f"watermark[{key!r}] = {value!r} is not an int")
        wm[str(key)] = int(value)
    arrays: dict[str, np.ndarray] = {}
    rings = {}
    for i, et in enumerate(EDGE_TYPES):
        rings[_et_key(i)] = _ring_state(store._rings[et], _et_key(i), arrays)
    for nt in NODE_TYPES:
        arrays[f"ids.{nt}.utf8"], arrays[f"ids.{nt}.offsets"] = store._ids[nt].to_arrays()
        for name, col in store._feats[nt].state().items():
            arrays[f"feat.{nt}.{name}"] = col
    n_content = store.num_nodes("content")
    for name, arr in store._trending.state(n_content).items():
        arrays[f"trending.{name}"] = arr
    for nt, first in store._first.items():
        arrays[f"first.{nt}"] = first[: store.num_nodes(nt)]
    header = {
        "format": FORMAT_VERSION,
        "settings": {
            "retention_ms": store.retention_ms,
            "max_edges": store.max_edges,
            "segment_edges": store.segment_edges,
            "trending_half_life_ms": store.trending_half_life_ms,
            "evict_types": [list(e) for e in store.evict_types],
        },
        "edge_types": [list(e) for e in EDGE_TYPES],
        "rings": rings,
        "features": {nt: store._feats[nt].names() for nt in NODE_TYPES},
        "max_ts": store.max_ts,
        "watermark": wm,
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    target = os.fspath(path)
    tmp = f"{target}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            # mypy fears **arrays could fill allow_pickle (a bool, newer numpy only); no key is named that.
            # Passing allow_pickle=True instead would store an extra array on numpy 1.x.
            np.savez(f, **arrays)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    try:
        dir_fd = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename itself is still atomic
    finally:
        os.close(dir_fd)


def _restore_ring(ring: EdgeRing, prefix: str, meta: dict[str, int], z: np.lib.npyio.NpzFile) -> None:
    lo, hi, s = int(meta["lo"]), int(meta["hi"]), ring.seg
    ring.lo = ring.hi = lo
    ring._reserve(hi - lo)
    ring.hi, ring.pmax_all = hi, int(meta["pmax_all"])
    first = lo // s
    base = z[f"{prefix}.seg_base"]
    for j in range(base.shape[0]):
        slot = (first + j) % ring.nseg
        for name in _SEG_FIELDS:
            getattr(ring, name)[slot] = z[f"{prefix}.{name}"][j]
    columns = {name: z[f"{prefix}.{name}"] for name in _EDGE_FIELDS if getattr(ring, name) is not None}
    e = lo
    while e < hi:
        p = int(e % ring.cap)
        n = min(hi - e, s - (e % s))
        for name, col in columns.items():
            getattr(ring, name)[p : p + n] = col[e - lo : e - lo + n]
        e += n
    for side_name in ("out", "inn"):
        side = getattr(ring, side_name)
        for f in _SIDE_FIELDS:
            setattr(side, f, np.array(z[f"{prefix}.{side_name}.{f}"], dtype=getattr(side, f).dtype))
    pairs = np.asarray(z[f"{prefix}.overflow"], dtype=np.int64).reshape(-1, 2)
    ring.overflow = OverflowTimes(pairs[:, 0].copy(), pairs[:, 1].copy())


def load(cls: type[GraphStore], path: str | os.PathLike[str]) -> tuple[GraphStore, dict[str, int]]:
    """Read a snapshot written by ``save``; returns the store and the watermark."""
    from graph_store.ids import IdMap

    with np.load(os.fspath(path), allow_pickle=False) as z:
        header = json.loads(z["header"].tobytes().decode())
        if header.get("format") not in READABLE_FORMATS:
            raise ValueError(f"snapshot format {header.get('format')!r} is not supported "
                             f"(expected one of {list(READABLE_FORMATS)})")
        if [tuple(e) for e in header["edge_types"]] != list(EDGE_TYPES):
            raise ValueError(f"snapshot edge types {header['edge_types']} differ from the schema's")
        st = header["settings"]
        store = cls(
            retention_ms=st["retention_ms"],
            max_edges=st["max_edges"],
            segment_edges=st["segment_edges"],
            trending_half_life_ms=st["trending_half_life_ms"],
            evict_types=[tuple(e) for e in st["evict_types"]],
        )
        for nt in NODE_TYPES:
            store._ids[nt] = IdMap.from_arrays(nt, z[f"ids.{nt}.utf8"], z[f"ids.{nt}.offsets"])
            n = len(store._ids[nt])
            cols = {name: z[f"feat.{nt}.{name}"] for name in header["features"][nt]}
            store._feats[nt].load_state(n, cols)
        for i, et in enumerate(EDGE_TYPES):
            _restore_ring(store._rings[et], _et_key(i), header["rings"][_et_key(i)], z)
        store._trending.load_state({"score": z["trending.score"], "ref": z["trending.ref"]})
        for nt in NODE_TYPES:
            store._grow_nodes(nt)
        if header["format"] >= 5:
            for nt, first in store._first.items():
                saved = z[f"first.{nt}"]
                first[: len(saved)] = saved
        else:
            _first_from_live_edges(store)
        store._max_ts = int(header["max_ts"])
    return store, dict(header["watermark"])


def _first_from_live_edges(store: GraphStore) -> None:
    """First-interaction times of a format-4 snapshot: the earliest live interaction edges
    (what was evicted before it was written is not known)."""
    for users, content, ts in store._live_interactions():
        store._note_first(users, content, ts)
