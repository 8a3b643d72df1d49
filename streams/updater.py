"""The updater's logic, free of Kafka: fold message batches into the graph, re-embed.

:meth:`Updater.ingest` decodes raw messages once (bad ones become dead letters with
their reason), folds the good ones into the graph store in one batch, and remembers
which users changed and when their newest event was appended to Kafka.
:meth:`Updater.refresh` re-embeds the dirty users, the dirty content and the trending
content, and returns the vector records to publish; when the graph has not changed since
the last refresh it returns nothing (the same inputs give the same vectors).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from graph_store.events import EventKind, InvalidEvent, decode
from graph_store.ingest import Applied, add_events
from graph_store.schema import CONTENT, NODE_TYPES, USER
from graph_store.store import GraphStore
from model.embedder import Embedder
from serving.vectors import VectorRecord
from streams import metrics
from streams.deadletter import DeadLetter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A Kafka record as read: where it came from and its bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int  # Kafka append (or create) time


@dataclass(slots=True)
class IngestResult:
    applied: Applied
    dead: list[DeadLetter] = field(default_factory=list)


@dataclass(slots=True)
class Refresh:
    records: list[VectorRecord]
    trending: list[tuple[str, float]] | None  # None: unchanged since the last refresh


#: Bytes of content ids a user record's seen list may hold.
SEEN_BYTES = 512 * 1024


class Updater:
    """Graph store + model; the worker feeds it batches and asks it to refresh on a timer."""

    def __init__(self, store: GraphStore, embedder: Embedder, topic_kinds: dict[str, EventKind], *,
                 trending_k: int = 200, max_reembed: int = 20000, fanouts: Sequence[int] = (10, 10),
                 seen_limit: int = 5000) -> None:
        self.store = store
        self.embedder = embedder
        self.topic_kinds = topic_kinds
        self.trending_k = trending_k
        self.max_reembed = max_reembed
        self.fanouts = tuple(fanouts)
        self.seen_limit = seen_limit
        self._pending: dict[str, set[int]] = {USER: set(), CONTENT: set()}
        self._appended_ms: dict[int, int] = {}  # user idx -> newest Kafka time of their events
        self._published_at: tuple[int, int] | None = None  # (edges, watermark) of the last refresh
        self._content_first = False  # users wait until every queued content vector is out

    def mark_all_dirty(self) -> None:
        """Queue every user and content node for re-embedding (after a restore, maybe on a
        new checkpoint). Content goes first: a user vector of a new model is only useful once
        that model's content vectors are all out to rank against."""
        for node_type in self._pending:
            self._pending[node_type].update(range(self.store.num_nodes(node_type)))
        self._content_first = True

    def idle(self) -> bool:
        """Nothing waits to be re-embedded (the last refresh took everything queued)."""
        return not any(self._pending.values())

    def ingest(self, messages: Sequence[RawMessage]) -> IngestResult:
        start = time.perf_counter()
        events, dead, sources = [], [], []
        for message in messages:
            kind = self.topic_kinds.get(message.topic)
            try:
                if kind is None:
                    raise InvalidEvent(f"topic {message.topic!r} carries no event type freshrec knows")
                if message.value is None:
                    raise InvalidEvent("empty message value (tombstone) on an event topic")
                events.append(decode(message.value, kind))
                sources.append(message)
            except InvalidEvent as exc:
                dead.append(DeadLetter(exc.reason, message.topic, message.partition, message.offset,
                                       message.key, message.value))
        applied = add_events(self.store, events)
        newest: dict[str, int] = {}  # user id -> newest Kafka time in this batch
        for event, message in zip(events, sources):
            user_id = getattr(event, "user_id", None)
            if user_id is not None and message.timestamp_ms > newest.get(user_id, 0):
                newest[user_id] = message.timestamp_ms
        if newest:
            for idx, appended in zip(self.store.lookup(USER, list(newest)).tolist(), newest.values()):
                if appended > self._appended_ms.get(idx, 0):
                    self._appended_ms[idx] = appended
        for letter in dead:
            metrics.EVENTS.labels(letter.topic, "dead_letter").inc()
            metrics.DEAD_LETTERS.labels(letter.topic).inc()
            log.warning("dead letter %s", letter.describe())
        for topic, count in Counter(message.topic for message in sources).items():
            metrics.EVENTS.labels(topic, "accepted").inc(count)
        for relation, count in (("watched", applied.watched), ("liked", applied.liked), ("shared", applied.shared)):
            metrics.EDGES_ADDED.labels(relation).inc(count)
        metrics.DUPLICATES.inc(len(events) - applied.catalog - applied.edges)
        metrics.BATCH_SIZE.observe(len(messages))
        metrics.INGEST_SECONDS.observe(time.perf_counter() - start)
        metrics.GRAPH_EDGES.set(self.store.num_edges())
        metrics.WATERMARK.set(self.store.max_ts / 1000.0)
        return IngestResult(applied, dead)

    def _take(self, node_type: str, extra: np.ndarray | None = None) -> np.ndarray:
        pending = self._pending[node_type]
        if extra is not None:
            pending.update(extra.tolist())
        if len(pending) <= self.max_reembed:
            chosen = np.fromiter(pending, np.int64, len(pending))
            pending.clear()
        else:
            # over the cap (a backlog, a roll-out), ``extra`` (the trending content) goes first,
            # in at most half the room, so the backlog drains however many items trend
            room = self.max_reembed - max(1, self.max_reembed // 2)
            head = extra.tolist()[:room] if extra is not None else []  # distinct: a top-k
            pending.difference_update(head)
            rest = [pending.pop() for _ in range(self.max_reembed - len(head))]
            chosen = np.array(head + rest, np.int64)
        metrics.PENDING.labels(node_type).set(len(pending))
        return np.sort(chosen)

    def _seen(self, users: np.ndarray) -> list[tuple[str, ...]]:
        """Each user's most recent ``seen_limit`` items, fewer if their ids would make the
        record larger than ``SEEN_BYTES`` (a Kafka message is at most 1 MiB by default)."""
        per_user = self.store.seen_many(users, limit=self.seen_limit)
        ids = self.store.external(CONTENT, np.concatenate(per_user)) if per_user else []
        out, start = [], 0
        for items in per_user:
            out.append(self._within_budget(ids[start:start + len(items)]))
            start += len(items)
        return out

    @staticmethod
    def _within_budget(ids: list[str]) -> tuple[str, ...]:
        if 4 * (sum(map(len, ids)) + len(ids)) <= SEEN_BYTES:  # fits even if every char took 4 bytes
            return tuple(ids)
        budget, n = SEEN_BYTES, 0
        for content_id in ids:
            budget -= len(content_id.encode()) + 4  # quotes, comma, a little JSON escaping
            if budget < 0:
                break
            n += 1
        return tuple(ids[:n])

    def refresh(self) -> Refresh:
        """Re-embed what changed since the last call; returns the records to publish."""
        start = time.perf_counter()
        dropped = self.store.evict()  # retention, if the store has one (whole old segments)
        if dropped:
            metrics.EDGES_EVICTED.inc(dropped)
            metrics.GRAPH_EDGES.set(self.store.num_edges())
        dirty = self.store.take_dirty()
        for node_type in self._pending:
            if node_type in dirty:
                self._pending[node_type].update(dirty[node_type].tolist())
        state = (self.store.num_edges(), self.store.max_ts)
        if state == self._published_at and self.idle():
            return Refresh([], None)  # nothing new: the last refresh's vectors and trending list stand
        self._published_at = state
        trend_idx, trend_score = self.store.trending(self.trending_k)
        contents = self._take(CONTENT, trend_idx)
        if self._content_first and self._pending[CONTENT].difference(trend_idx.tolist()):
            users = np.zeros(0, np.int64)  # the rest of the content first, then the users
        else:
            self._content_first = False
            users = self._take(USER)
        # Seen lists first, then the watermark: every item a record lists is at or before its
        # event_ms. Edges that land while the model runs make their users dirty again.
        seen = self._seen(users)
        watermark = self.store.max_ts
        records: list[VectorRecord] = []
        if len(contents):
            vectors = self.embedder.embed(self.store, CONTENT, contents, fanouts=self.fanouts)
            done_ms = int(time.time() * 1000)  # stamped once computed, as user records are
            for cid, vec in zip(self.store.external(CONTENT, contents), vectors):
                records.append(VectorRecord("content", cid, vec, self.embedder.version, watermark, done_ms))
            metrics.VECTORS.labels("content").inc(len(contents))
        if len(users):
            vectors = self.embedder.embed(self.store, USER, users, fanouts=self.fanouts)
            done_ms = int(time.time() * 1000)
            for u, uid, vec, items in zip(users.tolist(), self.store.external(USER, users), vectors, seen):
                appended = self._appended_ms.pop(u, None)
                records.append(VectorRecord("user", uid, vec, self.embedder.version, watermark, done_ms, items,
                                            appended))
                if appended is not None:
                    metrics.FRESHNESS.observe(max(0.0, done_ms - appended) / 1000.0)
            metrics.VECTORS.labels("user").inc(len(users))
        trending = list(zip(self.store.external(CONTENT, trend_idx), trend_score.tolist()))
        for node_type in NODE_TYPES:
            metrics.GRAPH_NODES.labels(node_type).set(self.store.num_nodes(node_type))
        if records:
            metrics.REEMBED_SECONDS.observe(time.perf_counter() - start)
        return Refresh(records, trending)
