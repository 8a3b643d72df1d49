"""The hot path: an aiokafka ``getmany`` loop that folds event batches into the graph.

Why not a Faust agent: on the real broker a Faust agent read 7-13k events/s at 75-104 µs
of CPU per event, a bare aiokafka consumer 134-236k/s at ~4 µs (``docs/consume_benchmark.md``).
Faust keeps what it is good at (worker lifecycle, timers, signals); this loop runs inside
it as a service.

Positions come from the graph, not from the group's committed offsets: the graph is an
in-memory view of the topics, so a partition it holds nothing of is read from the
beginning of its retained log, and one it holds is resumed right after the last offset
applied. Committed offsets trail the applied ones (every ``commit_interval_s``, on
revocation and on stop): they are what lag dashboards read and what a snapshot-based
restart will start from. Dead letters are acknowledged by the broker before the batch
that produced them counts as applied, so a crash loses nothing Kafka acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from streams import metrics
from streams.settings import Settings
from streams.updater import RawMessage, Updater

log = logging.getLogger(__name__)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, owner: EventConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.owner.lock:
            await self.owner.commit()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.owner.seek_assigned(assigned)


class EventConsumer:
    """Reads the event topics in batches and hands them to the :class:`Updater`."""

    def __init__(self, settings: Settings, updater: Updater, producer: AIOKafkaProducer,
                 on_fatal: Callable[[BaseException], Awaitable[None]]) -> None:
        self.settings = settings
        self.updater = updater
        self.producer = producer
        self.on_fatal = on_fatal
        self.topics = list(updater.topic_kinds)
        self.lock = asyncio.Lock()
        #: next offset to read per partition, for everything folded into the graph
        self.applied: dict[TopicPartition, int] = {}
        self._uncommitted: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        #: set while every event that was in a partition when it was assigned is applied;
        #: cleared when a rebalance hands over a partition with events not applied yet
        self.caught_up = threading.Event()
        self._backlog: dict[TopicPartition, int] | None = None  # end offsets at assignment
        self._owned: set[TopicPartition] = set()
        self._stopping = asyncio.Event()

    def restore(self, offsets: Mapping[str, int]) -> None:
        """Resume from a snapshot: ``{"topic:partition": next offset}`` it covers."""
        for key, offset in offsets.items():
            topic, _, partition = key.rpartition(":")
            self.applied[TopicPartition(topic, int(partition))] = int(offset)

    async def snapshot(self, path: Path) -> dict[str, int]:
        """Save the graph with exactly the offsets it holds (no batch is half-applied meanwhile)."""
        async with self.lock:
            offsets = {f"{tp.topic}:{tp.partition}": offset for tp, offset in self.applied.items()}
            path.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.get_running_loop().run_in_executor(None, self.updater.store.save, path, offsets)
        return offsets

    async def seek_assigned(self, assigned: list[TopicPartition]) -> None:
        assert self._consumer is not None
        fresh = []
        for tp in assigned:
            if tp in self.applied:
                self._consumer.seek(tp, self.applied[tp])
            else:
                fresh.append(tp)
        if fresh:
            await self._consumer.seek_to_beginning(*fresh)
        gained = [tp for tp in assigned if tp not in self._owned]
        self._owned = set(assigned)
        if gained:
            ends = await self._consumer.end_offsets(gained)
            behind = {tp: end for tp, end in ends.items() if self.applied.get(tp, 0) < end}
            if self._backlog is None or behind:
                self._backlog = behind
                self.caught_up.clear()
            self._check_caught_up()
        log.info("assigned %d partitions: %s", len(assigned), ", ".join(f"{tp.topic}[{tp.partition}]" for tp in assigned))

    async def commit(self) -> None:
        """Commit the applied offsets not committed yet (call with ``lock`` held)."""
        if not self._uncommitted or self._consumer is None:
            return
        offsets, self._uncommitted = self._uncommitted, {}
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError as exc:
            # The partitions moved to another member; it re-reads them (duplicates, not loss).
            log.warning("offset commit skipped after a rebalance: %s", exc)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=f"{self.settings.topic_prefix}-updater",
            client_id=self.settings.worker_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 << 20,
            max_poll_interval_ms=600_000,
        )
        self._consumer = consumer
        consumer.subscribe(self.topics, listener=_Rebalance(self))
        await consumer.start()
        last_commit = time.monotonic()
        poll_ms = max(1, round(self.settings.batch_wait_s * 1000))
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=poll_ms, max_records=self.settings.max_batch)
                if batches:
                    async with self.lock:
                        await self._apply(batches)
                if self._uncommitted and (not batches or time.monotonic() - last_commit >= self.settings.commit_interval_s):
                    async with self.lock:
                        await self.commit()
                    last_commit = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a lost cluster: stop the worker rather than skip events
            log.critical("event consumer failed; stopping the worker: %r", exc, exc_info=True)
            await self.on_fatal(exc)
        finally:
            try:
                async with self.lock:
                    await self.commit()
            except KafkaError as exc:
                log.warning("final offset commit failed: %s", exc)
            await consumer.stop()

    async def _apply(self, batches: dict[TopicPartition, list]) -> None:
        messages = [
            RawMessage(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp)
            for records in batches.values() for r in records
        ]
        result = self.updater.ingest(messages)
        if result.dead:
            deadletter_topic = self.settings.topic("deadletter")
            sends = [await self.producer.send(deadletter_topic, key=d.key, value=d.encode()) for d in result.dead]
            await asyncio.gather(*sends)
        for tp, records in batches.items():
            next_offset = records[-1].offset + 1
            self.applied[tp] = next_offset
            self._uncommitted[tp] = next_offset
            metrics.EVENTS.labels(tp.topic, "read").inc(len(records))
        self._check_caught_up()

    def _check_caught_up(self) -> None:
        if self.caught_up.is_set() or self._backlog is None:
            return
        if all(self.applied.get(tp, 0) >= end for tp, end in self._backlog.items()):
            self.caught_up.set()
            log.info("caught up with the events waiting in %d newly assigned partitions", len(self._backlog))

    def stop(self) -> None:
        self._stopping.set()
