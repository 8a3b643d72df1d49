"""Folding events into a :class:`GraphStore`: the one path used online and offline.

The streams worker hands decoded events in batches; training builds its graph from a
dataset's columns. Both end in :func:`add_interactions` and :func:`add_catalog`, so the
graph the model is trained on is built exactly like the one it re-embeds online.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from graph_store.events import CatalogUpsert, EventKind, Interaction
from graph_store.schema import CONTENT, CREATED_BY, CREATOR, HAS_TAG, LIKED, SHARED, TAG, USER, WATCHED
from graph_store.store import GraphStore

#: Interaction kind code (int8 columns) -> edge type.
KIND_CODES: dict[EventKind, int] = {EventKind.WATCH: 0, EventKind.LIKE: 1, EventKind.SHARE: 2}
KIND_EDGES = (WATCHED, LIKED, SHARED)

#: A genre is stored as a Tag node with this prefix, so genre and free tags share a relation.
GENRE_PREFIX = "genre:"


@dataclass(frozen=True, slots=True)
class Applied:
    """What one batch changed: new edges per kind and catalog rows applied."""

    watched: int = 0
    liked: int = 0
    shared: int = 0
    catalog: int = 0

    @property
    def edges(self) -> int:
        return self.watched + self.liked + self.shared


def add_interactions(
    store: GraphStore,
    users: Sequence[str] | np.ndarray,
    contents: Sequence[str] | np.ndarray,
    timestamps: np.ndarray,
    kinds: np.ndarray,
    completion_pct: np.ndarray,
) -> Applied:
    """Add interaction edges from columns; returns the new edges per kind.

    Shapes: all five are ``[n]``; ``kinds`` holds :data:`KIND_CODES` values,
    ``completion_pct`` is float with NaN where unknown (only read for watches).
    """
    n = len(users)
    for name, col in (("contents", contents), ("timestamps", timestamps), ("kinds", kinds),
                      ("completion_pct", completion_pct)):
        if len(col) != n:
            raise ValueError(f"{name} has {len(col)} rows but users has {n}")
    if n == 0:
        return Applied()
    u = store.index(USER, users)
    c = store.index(CONTENT, contents)
    ts = np.asarray(timestamps, dtype=np.int64)
    kinds = np.asarray(kinds, dtype=np.int8)
    pct = np.asarray(completion_pct, dtype=np.float32)
    added = []
    for code, edge_type in enumerate(KIND_EDGES):
        mask = kinds == code
        if not mask.any():
            added.append(0)
            continue
        attr = pct[mask] if edge_type == WATCHED else None
        added.append(store.add_edges(edge_type, u[mask], c[mask], ts[mask], attr))
    return Applied(watched=added[0], liked=added[1], shared=added[2])


def add_catalog(store: GraphStore, rows: Iterable[CatalogUpsert]) -> int:
    """Upsert content metadata: creator and tag edges (added once) and the duration feature."""
    rows = list(rows)
    if not rows:
        return 0
    content = store.index(CONTENT, [r.content_id for r in rows])
    durations = np.array([np.nan if r.duration_s is None else r.duration_s for r in rows], dtype=np.float32)
    known = ~np.isnan(durations)
    if known.any():
        store.set_features(CONTENT, content[known], duration_s=durations[known])

    creator_src, creator_dst, creator_ts = [], [], []
    tag_src, tag_dst, tag_ts = [], [], []
    for row, c in zip(rows, content):
        if row.creator_id is not None:
            creator = int(store.index(CREATOR, [row.creator_id])[0])
            if creator not in set(store.neighbors(CREATED_BY, int(c))[0].tolist()):
                creator_src.append(c)
                creator_dst.append(creator)
                creator_ts.append(row.timestamp)
        names = list(row.tags) + ([GENRE_PREFIX + row.genre] if row.genre else [])
        if names:
            existing = set(store.neighbors(HAS_TAG, int(c))[0].tolist())
            for tag in store.index(TAG, names).tolist():
                if tag not in existing:
                    existing.add(tag)
                    tag_src.append(c)
                    tag_dst.append(tag)
                    tag_ts.append(row.timestamp)
    if creator_src:
        store.add_edges(CREATED_BY, np.array(creator_src, np.int64), np.array(creator_dst, np.int64),
                        np.array(creator_ts, np.int64))
    if tag_src:
        store.add_edges(HAS_TAG, np.array(tag_src, np.int64), np.array(tag_dst, np.int64),
                        np.array(tag_ts, np.int64))
    return len(rows)


def add_events(store: GraphStore, events: Iterable[Interaction | CatalogUpsert]) -> Applied:
    """Apply a batch of decoded events: catalog upserts first, then interactions."""
    catalog: list[CatalogUpsert] = []
    interactions: list[Interaction] = []
    for event in events:
        if isinstance(event, CatalogUpsert):
            catalog.append(event)
        else:
            interactions.append(event)
    applied_catalog = add_catalog(store, catalog)
    if not interactions:
        return Applied(catalog=applied_catalog)
    edges = add_interactions(
        store,
        [e.user_id for e in interactions],
        [e.content_id for e in interactions],
        np.fromiter((e.timestamp for e in interactions), np.int64, len(interactions)),
        np.fromiter((KIND_CODES[e.kind] for e in interactions), np.int8, len(interactions)),
        np.fromiter((np.nan if e.completion_pct is None else e.completion_pct for e in interactions),
                    np.float32, len(interactions)),
    )
    return Applied(edges.watched, edges.liked, edges.shared, applied_catalog)
