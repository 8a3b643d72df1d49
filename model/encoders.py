"""Feature encoders: a node's stored features and graph statistics -> a fixed-width input.

Every feature is optional. Each numeric column becomes two inputs, the standardised
value (0 when unknown) and an "unknown" flag, so a node with no features at all still
encodes (to zeros plus flags) and the model learns what "unknown" means. Alongside the
stored columns every node type gets the log-degree of each relation it sends messages
on, counted at the sampling time ``before``: mean aggregation alone cannot see how
popular a node is. Interaction relations also get recency inputs at the same time: the
log hours since the node's newest edge, and for watches the counts in the last 1, 7, 30
and 365 days (the signal trending baselines live on). With ``age`` users and content also
get the hours since their first interaction (how new a film is to the catalog, how new a
user is to the service). A :class:`TimedSource` (e.g. the
KuaiRand exposure log) may add columns that are also computed strictly before the
sampling time; without one (online) they encode as unknown. Tags (a small, slowly
growing vocabulary) also get a stable hashed bucket for a learned embedding; the optional
per-id embeddings of users and content are keyed elsewhere (model/vocab.py).

The fitted parameters are plain lists and floats, saved inside the checkpoint.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from graph_store.schema import (
    INTERACTIONS, MESSAGE_EDGE_TYPES, NODE_TYPES, TAG, WATCHED, EdgeType, NodeType, reverse,
)
from graph_store.store import FIRST_SEEN_TYPES

#: A column is log-transformed when it is non-negative and spans more than this ratio.
_LOG_SPAN = 50.0


def degree_relations(node_type: NodeType) -> list[EdgeType]:
    """Relations whose neighbour lists a ``node_type`` node owns (it is the source)."""
    return [e for e in MESSAGE_EDGE_TYPES if e[0] == node_type]


def degrees(store: Any, edge_type: EdgeType, idx: np.ndarray, before: Before) -> np.ndarray:
    """Neighbour counts of ``idx`` along ``edge_type`` strictly before ``before`` [n] float32."""
    return np.asarray(store.degree(edge_type, np.asarray(idx, dtype=np.int64), before), dtype=np.float32)


HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: Windows (days) of the recent-count inputs of watch relations.
WINDOW_DAYS: tuple[int, ...] = (1, 7, 30, 365)


def recency_relations(node_type: NodeType) -> list[EdgeType]:
    """Interaction relations (either direction) a ``node_type`` node owns."""
    return [e for e in degree_relations(node_type) if e in INTERACTIONS or reverse(e) in INTERACTIONS]


def window_relations(node_type: NodeType) -> list[EdgeType]:
    return [e for e in recency_relations(node_type) if WATCHED in (e, reverse(e))]


#: A sampling time: one for every node, one per node ([n] int64), or None (now).
Before = int | np.ndarray | None


def reference_time(store: Any, before: Before) -> int | np.ndarray:
    """The time inputs are computed at: ``before``, or just after the newest edge."""
    if before is None:
        return int(store.max_ts) + 1
    return np.asarray(before, dtype=np.int64) if np.ndim(before) else int(before)


def hours_since_last(store: Any, edge_type: EdgeType, idx: np.ndarray, before: Before) -> np.ndarray:
    """Hours from the newest edge (ts < the reference time) to the reference time; NaN if
    none. Shapes: [n] -> [n] float32."""
    # before=None asks the live chains (cheap); any time rebuilds a sorted index per change
    last = store.last_ts(edge_type, np.asarray(idx, dtype=np.int64), before)
    return _hours_until(reference_time(store, before), last)


def _hours_until(now: int | np.ndarray, times: np.ndarray) -> np.ndarray:
    """Hours from ``times`` (-1: none) to ``now``; NaN where there is no time. [n] float32."""
    times = np.asarray(times, dtype=np.int64)
    return np.where(times >= 0, (now - times) / HOUR_MS, np.nan).astype(np.float32)


def window_count(store: Any, edge_type: EdgeType, idx: np.ndarray, before: Before, days: int,
                 current: np.ndarray | None = None) -> np.ndarray:
    """Edges in ``[now - days, now)``; ``current`` is the degree at ``before`` if known.
    Shapes: [n] -> [n] float32."""
    now = reference_time(store, before)
    idx = np.asarray(idx, dtype=np.int64)
    if current is None:
        current = store.degree(edge_type, idx, before)
    recent = current - store.degree(edge_type, idx, now - days * DAY_MS)
    # Online (before=None) the consumer may append between the two reads: an out-of-order
    # edge older than the window start can then be in the second count but not the first.
    return np.maximum(np.asarray(recent, dtype=np.float32), 0.0)


def hours_since_first(store: Any, node_type: NodeType, idx: np.ndarray, before: Before) -> np.ndarray:
    """Hours from the node's first interaction (before the reference time) to the reference
    time, the node's age in the graph; NaN if none. Shapes: [n] -> [n] float32."""
    first = store.first_ts(node_type, np.asarray(idx, dtype=np.int64), before)
    return _hours_until(reference_time(store, before), first)


class TimedSource(Protocol):
    """Extra per-node columns known only as of a time (e.g. past engagement rates)."""

    def columns(self, node_type: NodeType) -> list[str]: ...

    def values(self, store: Any, node_type: NodeType, idx: np.ndarray, before: Before) -> np.ndarray:
        """``[n, len(columns)]`` float32 from data strictly before ``before`` (one time or
        one per node); NaN unknown."""
        ...


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
    """Encoder of one node type: stored columns, degrees, recency and timed columns.

    Stored and timed columns and recency give two inputs each (value, unknown flag);
    degrees and window counts one (log1p of the count, standardised).
    """

    node_type: NodeType
    features: list[ColumnStats]
    degree: list[ColumnStats]  # names are "rel" of each relation in degree_relations()
    recency: list[ColumnStats] = field(default_factory=list)  # "rel", log hours since last
    windows: list[ColumnStats] = field(default_factory=list)  # "rel@days", log1p count
    timed: list[ColumnStats] = field(default_factory=list)  # columns of a TimedSource
    age: list[ColumnStats] = field(default_factory=list)  # "first": log hours since the first interaction

    @property
    def width(self) -> int:
        return 2 * len(self.features) + len(self.degree) + 2 * len(self.recency) + len(self.windows) \
            + 2 * len(self.timed) + 2 * len(self.age)

    def encode(
        self,
        store: Any,
        idx: np.ndarray,
        before: Before,
        *,
        drop_features: np.ndarray | None = None,
        source: TimedSource | None = None,
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
        current: dict[str, np.ndarray] = {}  # degree at ``before`` per relation, asked once

        def degree_of(rel: str) -> np.ndarray:
            if rel not in current:
                current[rel] = degrees(store, by_rel[rel], idx, before)
            return current[rel]

        for stats in self.degree:
            cols.append(stats.transform(np.log1p(degree_of(stats.name)))[0])
        for stats in self.recency:
            cols += list(stats.transform(np.log1p(hours_since_last(store, by_rel[stats.name], idx, before))))
        for stats in self.windows:
            rel, days = stats.name.split("@")
            counts = window_count(store, by_rel[rel], idx, before, int(days), current=degree_of(rel))
            cols.append(stats.transform(np.log1p(counts))[0])
        for stats in self.age:
            cols += list(stats.transform(np.log1p(hours_since_first(store, self.node_type, idx, before))))
        if self.timed:
            names = source.columns(self.node_type) if source is not None else []
            raw_all = (source.values(store, self.node_type, idx, before)
                       if source is not None and names and len(idx) else None)
            for stats in self.timed:
                raw = (raw_all[:, names.index(stats.name)] if raw_all is not None and stats.name in names
                       else np.full(len(idx), np.nan, np.float32))
                cols += list(stats.transform(raw))
        if not cols:
            return np.zeros((len(idx), 0), dtype=np.float32)
        return np.stack(cols, axis=1)


class FeatureEncoders:
    """All node types' encoders plus the hashed tag vocabulary.

    ``source`` (not saved) supplies timed columns; set it after loading a checkpoint when
    the data it needs is at hand, otherwise those columns encode as unknown.
    """

    def __init__(self, nodes: Mapping[NodeType, NodeEncoder], hash_buckets: Mapping[NodeType, int],
                 source: TimedSource | None = None):
        self.nodes = dict(nodes)
        self.hash_buckets = dict(hash_buckets)
        self.source = source

    @classmethod
    def fit(
        cls,
        store: Any,
        *,
        before: int | None = None,
        extra_features: Mapping[NodeType, Sequence[str]] | None = None,
        hash_buckets: Mapping[NodeType, int] | None = None,
        source: TimedSource | None = None,
        window_days: Sequence[int] = WINDOW_DAYS,
        age: bool = False,
    ) -> FeatureEncoders:
        """Fit on every node of ``store`` with the graph as it was before ``before``;
        ``window_days`` are the recent-count windows of watch relations; ``age`` adds the
        hours since a user's or a content's first interaction.

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
            rec = [
                ColumnStats.fit(e[1], np.log1p(hours_since_last(store, e, idx, before)) if n else np.empty(0),
                                allow_log=False)
                for e in recency_relations(t)
            ]
            wins = [
                ColumnStats.fit(f"{e[1]}@{d}", np.log1p(window_count(store, e, idx, before, d)) if n
                                else np.empty(0), allow_log=False)
                for e in window_relations(t) for d in window_days
            ]
            timed: list[ColumnStats] = []
            if source is not None and source.columns(t):
                vals = source.values(store, t, idx, before) if n else np.empty((0, len(source.columns(t))))
                timed = [ColumnStats.fit(c, vals[:, j]) for j, c in enumerate(source.columns(t))]
            ages = [
                ColumnStats.fit("first", np.log1p(hours_since_first(store, t, idx, before)) if n else np.empty(0),
                                allow_log=False)
            ] if age and t in FIRST_SEEN_TYPES else []
            nodes[t] = NodeEncoder(t, feats, degs, rec, wins, timed, ages)
        buckets = {TAG: 256} if hash_buckets is None else dict(hash_buckets)
        return cls(nodes, buckets, source)

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
        node_times: Mapping[NodeType, np.ndarray] | None = None,
    ) -> tuple[dict[NodeType, np.ndarray], dict[NodeType, np.ndarray]]:
        """Inputs ``{type: [n_t, width_t]}`` and hash buckets ``{type: [n_t] int64}``.

        ``node_times`` replaces ``before`` by one time per node for some types ([n_t])."""
        x: dict[NodeType, np.ndarray] = {}
        buckets: dict[NodeType, np.ndarray] = {}
        for t, idx in node_ids.items():
            drop = None
            if feature_dropout > 0 and rng is not None:
                drop = rng.random(len(idx)) < feature_dropout
            at = node_times[t] if node_times is not None and t in node_times else before
            x[t] = self.nodes[t].encode(store, idx, at, drop_features=drop, source=self.source)
            if t in self.hash_buckets:
                nb = self.hash_buckets[t]
                buckets[t] = np.array(
                    [stable_bucket(s, nb) for s in external_ids(store, t, idx)], dtype=np.int64
                )
        return x, buckets

    _PARTS = ("features", "degree", "recency", "windows", "timed", "age")

    def state(self) -> dict[str, Any]:
        """Plain-data parameters (lists, floats, str) for the checkpoint."""

        def cols(stats: list[ColumnStats]) -> list[dict[str, Any]]:
            return [{"name": s.name, "log": s.log, "center": s.center, "scale": s.scale} for s in stats]

        return {
            "nodes": {t: {p: cols(getattr(e, p)) for p in self._PARTS} for t, e in self.nodes.items()},
            "hash_buckets": dict(self.hash_buckets),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> FeatureEncoders:
        def cols(rows: list[Mapping[str, Any]]) -> list[ColumnStats]:
            return [ColumnStats(r["name"], bool(r["log"]), float(r["center"]), float(r["scale"])) for r in rows]

        # parts missing from older checkpoints are empty
        nodes = {t: NodeEncoder(t, *(cols(s.get(p, [])) for p in cls._PARTS)) for t, s in state["nodes"].items()}
        return cls(nodes, {t: int(b) for t, b in state["hash_buckets"].items()})
