"""Feature encoders: a node's stored features and graph statistics -> a fixed-width input.

Every feature is optional. Each numeric column becomes two inputs, the standardised
value (0 when unknown) and an "unknown" flag, so a node with no features at all still
encodes (to zeros plus flags) and the model learns what "unknown" means. Alongside the
stored columns every node type gets the log-degree of each relation it sends messages
on, counted at the sampling time ``before``: mean aggregation alone cannot see how
popular a node is. Tags (a small, slowly growing vocabulary) also get a stable hashed
bucket for a learned embedding; users and content never get per-id parameters.

The fitted parameters are plain lists and floats, saved inside the checkpoint.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graph_store.schema import MESSAGE_EDGE_TYPES, NODE_TYPES, TAG, EdgeType, NodeType

#: A column is log-transformed when it is non-negative and spans more than this ratio.
_LOG_SPAN = 50.0


def _is_reverse(edge_type: EdgeType) -> bool:
    return edge_type[1].startswith("rev_")


def degree_relations(node_type: NodeType) -> list[EdgeType]:
    """Relations whose neighbour lists a ``node_type`` node owns (it is the source)."""
    return [e for e in MESSAGE_EDGE_TYPES if e[0] == node_type]


def degrees(store: Any, edge_type: EdgeType, idx: np.ndarray, before: int | None) -> np.ndarray:
    """Neighbour counts of ``idx`` along ``edge_type`` strictly before ``before`` [n] float32."""
    idx = np.asarray(idx, dtype=np.int64)
    if before is None:
        return np.asarray(store.degree(edge_type, idx), dtype=np.float32)
    return _TimedDegrees.of(store).count(edge_type, idx, before)


class _TimedDegrees:
    """Degrees at a past time, for stores whose ``degree`` has no ``before``.

    Built once per (store, edge count) from ``store.neighbors``: per relation, every
    edge's key ``node << 42 | (ts - t0)`` sorted, so a count is two binary searches.
    """

    _cache: dict[int, tuple[Any, int, _TimedDegrees]] = {}
    _SHIFT = 42

    def __init__(self, store: Any) -> None:
        per_rel: dict[EdgeType, tuple[np.ndarray, np.ndarray]] = {}
        for e in MESSAGE_EDGE_TYPES:
            nodes, stamps = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
            for v in range(store.num_nodes(e[0])):
                ts = store.neighbors(e, v)[1]
                nodes.append(np.full(len(ts), v, dtype=np.int64))
                stamps.append(np.asarray(ts, dtype=np.int64))
            per_rel[e] = (np.concatenate(nodes), np.concatenate(stamps))
        every_ts = np.concatenate([ts for _, ts in per_rel.values()])
        self.t0 = int(every_ts.min()) - 1 if len(every_ts) else 0
        self.keys = {
            e: np.sort((nodes << self._SHIFT) | (ts - self.t0)) for e, (nodes, ts) in per_rel.items()
        }

    @classmethod
    def of(cls, store: Any) -> _TimedDegrees:
        stamp = store.num_edges()
        hit = cls._cache.get(id(store))
        if hit is None or hit[0] is not store or hit[1] != stamp:
            cls._cache = {id(store): (store, stamp, cls(store))}  # one store at a time
            hit = cls._cache[id(store)]
        return hit[2]

    def count(self, edge_type: EdgeType, idx: np.ndarray, before: int) -> np.ndarray:
        key = self.keys[edge_type]
        rel = min(max(int(before) - self.t0, 0), (1 << self._SHIFT) - 1)
        lo = np.searchsorted(key, idx << self._SHIFT, side="left")
        hi = np.searchsorted(key, (idx << self._SHIFT) | rel, side="left")
        return (hi - lo).astype(np.float32)


def external_ids(store: Any, node_type: NodeType, idx: np.ndarray) -> list[str]:
    """The external string ids of dense indices ``idx``."""
    return [str(s) for s in store.external(node_type, np.asarray(idx, dtype=np.int64))]


def stable_bucket(name: str, buckets: int) -> int:
    """A process-independent hash bucket (Python's ``hash`` is salted per process)."""
    return zlib.crc32(name.encode("utf-8")) % buckets


@dataclass
class ColumnStats:
    """How one numeric column is standardised: ``(f(x) - center) / scale``."""

    name: str
    log: bool
    center: float
    scale: float

    @classmethod
    def fit(cls, name: str, values: np.ndarray, *, allow_log: bool = True) -> ColumnStats:
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if len(v) == 0:
            return cls(name, False, 0.0, 1.0)
        log = allow_log and bool(v.min() >= 0 and v.max() > _LOG_SPAN * max(np.median(v), 1.0))
        if log:
            v = np.log1p(v)
        scale = float(v.std())
        return cls(name, log, float(v.mean()), scale if scale > 1e-6 else 1.0)

    def transform(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Standardised values (0 where unknown) and the unknown flags, both float32 [n]."""
        v = np.asarray(values, dtype=np.float64)
        missing = ~np.isfinite(v)
        if self.log:
            v = np.log1p(np.clip(v, 0, None))
        z = np.where(missing, 0.0, (v - self.center) / self.scale)
        return np.clip(z, -6, 6).astype(np.float32), missing.astype(np.float32)


@dataclass
class NodeEncoder:
    """Encoder of one node type: stored feature columns and relation degrees."""

    node_type: NodeType
    features: list[ColumnStats]
    degree: list[ColumnStats]  # names are "rel" of each relation in degree_relations()

    @property
    def width(self) -> int:
        return 2 * len(self.features) + len(self.degree)

    def encode(
        self, store: Any, idx: np.ndarray, before: int | None, *, drop_features: np.ndarray | None = None
    ) -> np.ndarray:
        """Inputs of nodes ``idx`` [n, width]; ``drop_features`` [n] bool hides stored
        features of those rows (training-time dropout so unknown features are familiar)."""
        idx = np.asarray(idx, dtype=np.int64)
        cols: list[np.ndarray] = []
        known = set(store.feature_columns(self.node_type))
        for stats in self.features:
            if stats.name in known and len(idx):
                raw = np.asarray(store.features(self.node_type, stats.name, idx), dtype=np.float32)
            else:
                raw = np.full(len(idx), np.nan, dtype=np.float32)
            if drop_features is not None:
                raw = np.where(drop_features, np.nan, raw)
            z, missing = stats.transform(raw)
            cols += [z, missing]
        by_rel = {e[1]: e for e in degree_relations(self.node_type)}
        for stats in self.degree:
            cols.append(stats.transform(np.log1p(degrees(store, by_rel[stats.name], idx, before)))[0])
        if not cols:
            return np.zeros((len(idx), 0), dtype=np.float32)
        return np.stack(cols, axis=1)


class FeatureEncoders:
    """All node types' encoders plus the hashed tag vocabulary."""

    def __init__(self, nodes: Mapping[NodeType, NodeEncoder], hash_buckets: Mapping[NodeType, int]):
        self.nodes = dict(nodes)
        self.hash_buckets = dict(hash_buckets)

    @classmethod
    def fit(
        cls,
        store: Any,
        *,
        before: int | None = None,
        extra_features: Mapping[NodeType, Sequence[str]] | None = None,
        hash_buckets: Mapping[NodeType, int] | None = None,
    ) -> FeatureEncoders:
        """Fit on every node of ``store`` with the graph as it was before ``before``.

        ``extra_features`` names columns to expect even if the store holds none now (they
        will then always encode as unknown)."""
        nodes: dict[NodeType, NodeEncoder] = {}
        for t in NODE_TYPES:
            n = store.num_nodes(t)
            idx = np.arange(n, dtype=np.int64)
            names = list(dict.fromkeys([*store.feature_columns(t), *(extra_features or {}).get(t, ())]))
            stored = set(store.feature_columns(t))
            feats = [
                ColumnStats.fit(c, store.features(t, c, idx) if c in stored and n else np.empty(0))
                for c in sorted(names)
            ]
            degs = [  # encode() takes log1p of the counts itself
                ColumnStats.fit(e[1], np.log1p(degrees(store, e, idx, before)) if n else np.empty(0),
                                allow_log=False)
                for e in degree_relations(t)
            ]
            nodes[t] = NodeEncoder(t, feats, degs)
        buckets = {TAG: 256} if hash_buckets is None else dict(hash_buckets)
        return cls(nodes, buckets)

    def widths(self) -> dict[NodeType, int]:
        return {t: e.width for t, e in self.nodes.items()}

    def encode(
        self,
        store: Any,
        node_ids: Mapping[NodeType, np.ndarray],
        before: int | None,
        *,
        feature_dropout: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> tuple[dict[NodeType, np.ndarray], dict[NodeType, np.ndarray]]:
        """Inputs ``{type: [n_t, width_t]}`` and hash buckets ``{type: [n_t] int64}``."""
        x: dict[NodeType, np.ndarray] = {}
        buckets: dict[NodeType, np.ndarray] = {}
        for t, idx in node_ids.items():
            drop = None
            if feature_dropout > 0 and rng is not None:
                drop = rng.random(len(idx)) < feature_dropout
            x[t] = self.nodes[t].encode(store, idx, before, drop_features=drop)
            if t in self.hash_buckets:
                nb = self.hash_buckets[t]
                buckets[t] = np.array(
                    [stable_bucket(s, nb) for s in external_ids(store, t, idx)], dtype=np.int64
                )
        return x, buckets

    def state(self) -> dict[str, Any]:
        """Plain-data parameters (lists, floats, str) for the checkpoint."""

        def cols(stats: list[ColumnStats]) -> list[dict[str, Any]]:
            return [{"name": s.name, "log": s.log, "center": s.center, "scale": s.scale} for s in stats]

        return {
            "nodes": {t: {"features": cols(e.features), "degree": cols(e.degree)} for t, e in self.nodes.items()},
            "hash_buckets": dict(self.hash_buckets),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> FeatureEncoders:
        def cols(rows: list[Mapping[str, Any]]) -> list[ColumnStats]:
            return [ColumnStats(r["name"], bool(r["log"]), float(r["center"]), float(r["scale"])) for r in rows]

        nodes = {
            t: NodeEncoder(t, cols(s["features"]), cols(s["degree"])) for t, s in state["nodes"].items()
        }
        return cls(nodes, {t: int(b) for t, b in state["hash_buckets"].items()})
