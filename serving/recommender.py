"""Ranking: a user's vector against the content index, minus what they have seen.

A user with no vector yet (never seen by the updater) gets the trending list instead, so
nobody gets an empty page. Vectors arrive as :class:`VectorRecord` from the updater in
the same process or from the embeddings topic; serving never computes one itself.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from serving import metrics
from serving.index import ContentIndex
from serving.vectors import VectorRecord

log = logging.getLogger(__name__)


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
    """User vectors, content indexes and the trending fallback, updated by records.

    Vectors of different model versions live in different spaces (and may differ in
    width), so content is indexed per version and a user is ranked against the index of
    the version that produced the user's vector. While a new checkpoint rolls out, the
    old version's index stays as long as some user vector still comes from it.
    """

    def __init__(self, dim: int | None = None) -> None:
        """``dim``: the width every vector must have; ``None`` lets the first record of each
        model version set that version's width (a replica learns it from the topic)."""
        self._dim = dim
        self._indexes: dict[str, ContentIndex] = {}
        self._widths: dict[str, int] = {}
        self._newest: str | None = None
        self._users: dict[str, UserState] = {}
        self._user_versions: Counter[str] = Counter()
        self._trending: list[tuple[str, float]] = []

    @property
    def dim(self) -> int | None:
        """Width of the newest model version's vectors (``dim`` until a record arrives)."""
        return self._widths.get(self._newest, self._dim) if self._newest is not None else self._dim

    @property
    def newest_version(self) -> str | None:
        """The model version of the latest record applied."""
        return self._newest

    def versions(self) -> dict[str, int]:
        """Content vectors held per model version."""
        return {v: len(index) for v, index in self._indexes.items()}

    def num_content(self) -> int:
        """Content vectors of the newest model version."""
        index = self._indexes.get(self._newest) if self._newest is not None else None
        return 0 if index is None else len(index)

    def num_users(self) -> int:
        return len(self._users)

    def check(self, record: VectorRecord, batch: dict[str, int]) -> None:
        """Raise ``ValueError`` if ``record``'s width differs from its model version's: the
        width held, else the first one in ``batch`` (version -> width of the records checked
        so far in the same batch; this call adds to it)."""
        version = record.model_version
        width = self._dim if self._dim is not None else self._widths.get(version, batch.get(version))
        if width is not None and record.vector.shape != (width,):
            raise ValueError(f"{record.kind} {record.id}: vector has shape {record.vector.shape}; model "
                             f"{version} vectors have dim {width}")
        batch.setdefault(version, int(record.vector.shape[0]))

    def apply(self, records: Iterable[VectorRecord]) -> int:
        """Take refreshed vectors into the indexes; returns how many were applied. A batch
        with a vector of the wrong width raises ``ValueError`` and changes nothing."""
        records = list(records)
        batch: dict[str, int] = {}
        for record in records:
            self.check(record, batch)
        content: dict[str, tuple[list[str], list[np.ndarray]]] = {}
        now_ms = time.time() * 1000.0
        n = 0
        for record in records:
            version = record.model_version
            if version not in self._widths:
                self._widths[version] = int(record.vector.shape[0])
                log.info("vectors of model %s (dim %d) arriving", version, self._widths[version])
            self._newest = version
            n += 1
            metrics.VECTOR_AGE.labels(record.kind).observe(max(0.0, now_ms - record.produced_ms) / 1000.0)
            if record.appended_ms is not None:
                metrics.EVENT_TO_VISIBLE.observe(max(0.0, now_ms - record.appended_ms) / 1000.0)
            if record.kind == "content":
                ids, vecs = content.setdefault(version, ([], []))
                ids.append(record.id)
                vecs.append(record.vector)
            else:
                state = UserState(record.vector, frozenset(record.seen), version, record.event_ms,
                                  record.produced_ms)
                old = self._users.get(record.id)
                self._users[record.id] = state  # one dict assignment: readers see the old or the new state
                self._user_versions[version] += 1
                if old is not None:
                    self._user_versions[old.model_version] -= 1
        for version, (ids, vecs) in content.items():
            index = self._indexes.get(version)
            if index is None:
                index = self._indexes[version] = ContentIndex(self._widths[version])
            index.upsert(ids, np.stack(vecs))
        self._drop_unused()
        metrics.INDEX_SIZE.labels("content").set(self.num_content())
        metrics.INDEX_SIZE.labels("user").set(len(self._users))
        return n

    def _drop_unused(self) -> None:
        """Forget older model versions that no user vector needs any more."""
        for version in [v for v in self._widths if v != self._newest and self._user_versions[v] <= 0]:
            self._widths.pop(version)
            self._user_versions.pop(version, None)
            if self._indexes.pop(version, None) is not None:
                log.info("model %s: no user vector of it is left; its content index is dropped", version)

    def set_trending(self, items: Sequence[tuple[str, float]]) -> None:
        """The fallback list for users without a vector, best first."""
        self._trending = list(items)

    def user(self, user_id: str) -> UserState | None:
        return self._users.get(user_id)

    def recommend(self, user_id: str, k: int) -> Recommendations:
        state = self._users.get(user_id)
        index = self._indexes.get(state.model_version) if state is not None else None
        if state is None or index is None:
            # no vector yet, or none of its model's content has arrived yet (a roll-out's start)
            return Recommendations(user_id, self._trending[:k], "trending", None, None)
        items = index.search(state.vector, k, exclude=state.seen)
        return Recommendations(user_id, items, "personal", state.model_version, state.event_ms)
