"""The consumer's readiness on a real broker: caught up per assignment, and back to
catching up when a rebalance hands over a partition with events it has not applied."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from graph_store.events import EventKind
from streams.consumer import EventConsumer
from streams.settings import Settings
from streams.topics import ensure_topics


def test_readiness_follows_the_partitions_a_rebalance_hands_over(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, partitions=2)
    ensure_topics(settings)
    topic = settings.topic("watch")
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for partition in (0, 0, 1):
        producer.send(topic, b"{}", partition=partition)
    producer.flush()
    producer.close()

    async def scenario() -> list[bool]:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            # only read positions are exercised: no updater, producer or fatal handler is called
            updater = SimpleNamespace(topic_kinds={topic: EventKind.WATCH})
            events = EventConsumer(settings, updater, None, None)  # type: ignore[arg-type]
            events._consumer = consumer
            seen = []
            consumer.assign([p0])
            await events.seek_assigned([p0])  # two events wait in p0
            seen.append(events.caught_up.is_set())
            events.applied[p0] = 2
            events._check_caught_up()
            seen.append(events.caught_up.is_set())
            consumer.assign([p0])
            await events.seek_assigned([p0])  # the same partition again: nothing new to read
            seen.append(events.caught_up.is_set())
            consumer.assign([p0, p1])
            await events.seek_assigned([p0, p1])  # a rebalance hands over p1 and its event
            seen.append(events.caught_up.is_set())
            events.applied[p1] = 1
            events._check_caught_up()
            seen.append(events.caught_up.is_set())
            return seen
        finally:
            await consumer.stop()

    assert asyncio.run(scenario()) == [False, True, True, False, True]
