"""Follow the compacted embeddings topic into a :class:`Recommender`.

A serving replica reads the topic from the beginning (bootstrap), then keeps following
it. Replicas use no consumer group offsets: each one needs every record, and the topic is
compacted, so a replay from the start is bounded by the number of live vectors.
"""

from __future__ import annotations

import logging
import threading

from kafka import KafkaConsumer, TopicPartition

from serving import metrics
from serving.recommender import Recommender
from serving.vectors import TRENDING_KEY, InvalidVector, decode, decode_trending

log = logging.getLogger(__name__)


class EmbeddingsFollower(threading.Thread):
    """A daemon thread that applies every record of ``topic`` to ``recommender``."""

    def __init__(self, recommender: Recommender, bootstrap: str, topic: str, poll_ms: int = 200) -> None:
        super().__init__(name="embeddings-follower", daemon=True)
        self.recommender = recommender
        self.topic = topic
        self.poll_ms = poll_ms
        self._stopping = threading.Event()
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
            auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20,
        )
        self.caught_up = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def _assign(self) -> dict[TopicPartition, int]:
        partitions = self._consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        self._consumer.seek_to_beginning(*tps)
        return self._consumer.end_offsets(tps) if tps else {}

    def run(self) -> None:
        ends = self._assign()
        if not ends:
            log.warning("embeddings topic %s has no partitions yet; serving trending only", self.topic)
        try:
            while not self._stopping.is_set():
                if not ends:
                    ends = self._assign()
                    if not ends:
                        self._stopping.wait(1.0)
                        continue
                batches = self._consumer.poll(timeout_ms=self.poll_ms)
                for records in batches.values():
                    self._apply(records)
                if not self.caught_up.is_set() and all(
                    self._consumer.position(tp) >= end for tp, end in ends.items()
                ):
                    self.caught_up.set()
        finally:
            self._consumer.close()

    def _apply(self, records: list) -> None:
        vectors = []
        widths: dict[str, int] = {}  # per model version, of the records taken from this batch
        for message in records:
            try:
                if message.key == TRENDING_KEY:
                    self.recommender.set_trending(decode_trending(message.value))
                else:
                    record = decode(message.value)
                    try:
                        self.recommender.check(record, widths)
                    except ValueError as exc:
                        raise InvalidVector(str(exc)) from None
                    vectors.append(record)
                metrics.EMBEDDINGS_CONSUMED.labels("ok").inc()
            except InvalidVector as exc:
                metrics.EMBEDDINGS_CONSUMED.labels("invalid").inc()
                log.warning("skipping embeddings record at %s[%d]@%d: %s",
                            message.topic, message.partition, message.offset, exc)
        self.recommender.apply(vectors)
