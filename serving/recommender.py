"""Ranking: a user's vector against the content index, minus what they have seen.

A user with no vector yet (never seen by the updater) gets the trending list instead, so
nobody gets an empty page. Vectors arrive as :class:`VectorRecord` from the updater in
the same process or from the embeddings topic; serving never computes one itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from serving import metrics
from serving.index import ContentIndex
from serving.vectors import VectorRecord


@dataclass(frozen=True, slots=True)
class UserState:
    vector: np.ndarray
    seen: frozenset[str]
    model_version: str
    event_ms: int
    produced_ms: int


@dataclass(frozen=True, slots=True)
class Recommendations:
    user_id: str
    items: list[tuple[str, float]]
    source: str  # "personal" or "trending"
    model_version: str | None
    event_ms: int | None


class Recommender:
    """User vectors, the content index and the trending fallback, updated by records."""

    def __init__(self, dim: int | None = None) -> None:
        """``dim`` may be left to the first vector applied (a replica learns it from the topic)."""
        self._index = ContentIndex(dim) if dim is not None else None
        self._users: dict[str, UserState] = {}
        self._trending: list[tuple[str, float]] = []

    @property
    def dim(self) -> int | None:
        return None if self._index is None else self._index.dim

    @property
    def index(self) -> ContentIndex:
        if self._index is None:
            raise LookupError("no vector has been applied yet, so the index has no dimension")
        return self._index

    def num_content(self) -> int:
        return 0 if self._index is None else len(self._index)

    def num_users(self) -> int:
        return len(self._users)

    def apply(self, records: Iterable[VectorRecord]) -> int:
        """Take refreshed vectors into the index; returns how many were applied."""
        content_ids: list[str] = []
        content_vecs: list[np.ndarray] = []
        now_ms = time.time() * 1000.0
        n = 0
        for record in records:
            if self._index is None:
                self._index = ContentIndex(int(record.vector.shape[0]))
            if record.vector.shape != (self.dim,):
                raise ValueError(
                    f"{record.kind} {record.id}: vector has shape {record.vector.shape}; index dim is {self.dim}"
                )
            n += 1
            metrics.VECTOR_AGE.labels(record.kind).observe(max(0.0, now_ms - record.produced_ms) / 1000.0)
            if record.kind == "content":
                content_ids.append(record.id)
                content_vecs.append(record.vector)
            else:
                state = UserState(record.vector, frozenset(record.seen), record.model_version,
                                  record.event_ms, record.produced_ms)
                self._users[record.id] = state  # one dict assignment: readers see the old or the new state
        if content_ids:
            self.index.upsert(content_ids, np.stack(content_vecs))
        metrics.INDEX_SIZE.labels("content").set(self.num_content())
        metrics.INDEX_SIZE.labels("user").set(len(self._users))
        return n

    def set_trending(self, items: Sequence[tuple[str, float]]) -> None:
        """The fallback list for users without a vector, best first."""
        self._trending = list(items)

    def user(self, user_id: str) -> UserState | None:
        return self._users.get(user_id)

    def recommend(self, user_id: str, k: int) -> Recommendations:
        state = self._users.get(user_id)
        if state is None:
            return Recommendations(user_id, self._trending[:k], "trending", None, None)
        items = self._index.search(state.vector, k, exclude=state.seen) if self._index is not None else []
        return Recommendations(user_id, items, "personal", state.model_version, state.event_ms)
