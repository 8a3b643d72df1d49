"""A replica following the embeddings topic skips records of another width, even in its first batch."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from kafka import KafkaProducer

from serving.follow import EmbeddingsFollower
from serving.recommender import Recommender
from serving.vectors import VectorRecord, encode

pytestmark = pytest.mark.kafka


def _record(user: str, dim: int) -> bytes:
    return encode(VectorRecord("user", user, np.ones(dim, np.float32), "m", 1, 1))


def test_a_first_batch_with_two_widths_keeps_the_follower_alive(kafka_bootstrap: str) -> None:
    topic = f"follow-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for user, dim in (("a", 8), ("b", 6), ("c", 8)):  # "b" comes from a model of another width
        producer.send(topic, key=user.encode(), value=_record(user, dim), partition=0)
    producer.flush()
    producer.close()
    rec = Recommender()
    follower = EmbeddingsFollower(rec, kafka_bootstrap, topic, poll_ms=100)
    follower.start()
    try:
        deadline = time.monotonic() + 60
        while rec.num_users() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rec.dim == 8 and rec.user("a") is not None and rec.user("c") is not None
        assert rec.user("b") is None and follower.is_alive()
        assert follower.caught_up.wait(30)  # everything that was on the topic at start is read
    finally:
        follower.stop()
        follower.join(timeout=10)
