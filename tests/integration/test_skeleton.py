"""The walking skeleton end to end on the real broker: an event in Kafka changes a user's
recommendations over HTTP, and malformed events go to the dead-letter topic."""

from __future__ import annotations

import itertools
import json
import time
import urllib.request
from collections import Counter

import pytest
from kafka import KafkaConsumer, KafkaProducer

from model.datasets import catalog_events, interaction_events, load_dataset
from streams import deadletter
from streams.producer import publish
from graph_store.store import GraphStore
from tests.integration.conftest import Worker, WorkerFactory, http_json, metric_sum, wait_for

pytestmark = pytest.mark.kafka

HISTORY = 3000


@pytest.fixture(scope="module")
def movielens():
    return load_dataset("movielens")


def _seed_history(worker: Worker, movielens) -> str:
    """Replay the catalog and the first events; returns the busiest user among them."""
    head = itertools.islice(interaction_events(movielens.interactions), HISTORY)
    events = list(catalog_events(movielens)) + list(head)
    report = publish(worker.settings, events)
    assert report.sent == len(events) and report.rejected == 0
    counts = Counter(e["user_id"] for e in events if e["type"] != "catalog")
    return counts.most_common(1)[0][0]


def test_a_watch_event_changes_recommendations_and_lands_in_the_graph(worker: Worker, movielens) -> None:
    user = _seed_history(worker, movielens)
    url = f"{worker.base_url}/recommendations/{user}?k=10"
    before = wait_for(lambda: (lambda r: r[1] if r[1].get("source") == "personal" and r[1]["items"] else None)(
        http_json(url)), 120, f"personal recommendations for user {user}")
    _, state = http_json(f"{worker.base_url}/users/{user}")
    seen = set(state["seen"])
    shown = {item["content_id"] for item in before["items"]}
    target = next(str(c) for c in movielens.catalog.content if str(c) not in seen and str(c) not in shown)
    ts = int(movielens.interactions.ts.max()) + 60_000

    producer = KafkaProducer(bootstrap_servers=worker.settings.bootstrap, acks="all")
    event = {"user_id": user, "content_id": target, "timestamp": ts, "completion_pct": 100.0}
    producer.send(worker.settings.topic("watch"), key=user.encode(), value=json.dumps(event).encode())
    producer.flush()
    producer.close()

    after_state = wait_for(lambda: (lambda r: r[1] if target in r[1].get("seen", ()) else None)(
        http_json(f"{worker.base_url}/users/{user}")), 60, f"content {target} in user {user}'s graph")
    assert after_state["event_ms"] == ts
    _, after = http_json(url)
    assert after["source"] == "personal"
    assert target not in {item["content_id"] for item in after["items"]}
    assert [(i["content_id"], i["score"]) for i in after["items"]] != [
        (i["content_id"], i["score"]) for i in before["items"]]


def test_malformed_events_go_to_the_dead_letter_topic_and_the_worker_goes_on(worker: Worker, movielens) -> None:
    topic = worker.settings.topic("watch")
    producer = KafkaProducer(bootstrap_servers=worker.settings.bootstrap, acks="all")
    bad = [
        (b"u1", b"{this is not json"),
        (b"u1", json.dumps({"content_id": "1", "timestamp": 1_700_000_000_000}).encode()),
        (b"u1", json.dumps({"type": "click", "user_id": "u1", "content_id": "1",
                            "timestamp": 1_700_000_000_000}).encode()),
    ]
    for key, value in bad:
        producer.send(topic, key=key, value=value)
    good = {"user_id": "after-bad", "content_id": str(movielens.catalog.content[0]),
            "timestamp": 1_700_000_000_000, "completion_pct": 50.0}
    producer.send(topic, key=b"after-bad", value=json.dumps(good).encode())
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(worker.settings.topic("deadletter"), bootstrap_servers=worker.settings.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=1000, group_id=None)
    letters: list[dict] = []
    wait_for(lambda: letters.extend(deadletter.decode(m.value) for m in consumer) or len(letters) >= 3, 60,
             "three dead letters")
    consumer.close()
    reasons = sorted(letter["reason"] for letter in letters)
    assert len(letters) == 3
    assert any("not valid JSON" in r for r in reasons)
    assert any("missing field 'user_id'" in r for r in reasons)
    assert any("unknown event type 'click'" in r for r in reasons)
    assert all(letter["source"]["topic"] == topic for letter in letters)
    assert {letter["value"] for letter in letters} == {value.decode() for _, value in bad}

    wait_for(lambda: http_json(f"{worker.base_url}/users/after-bad")[0] == 200, 60,
             "the good event after the bad ones")
    with urllib.request.urlopen(f"{worker.base_url}/metrics") as response:
        text_metrics = response.read().decode()
    assert 'freshrec_dead_letters_total{topic="%s"} 3.0' % topic in text_metrics


def test_a_worker_killed_with_sigkill_resumes_from_its_snapshot_with_exact_accounting(
        workers: WorkerFactory, movielens, tmp_path) -> None:
    first = workers.start()
    user = _seed_history(first, movielens)
    seeded = len(movielens.catalog) + HISTORY
    snapshot = first.settings.model_copy(update={"state_dir": tmp_path / "state"}).snapshot_path()
    wait_for(lambda: snapshot.exists() and sum(GraphStore.load(snapshot)[1].values()) == seeded, 120,
             "a snapshot covering the seeded events")

    tail = [{"type": "watch", "user_id": user, "content_id": str(c), "timestamp": 1_700_000_000_000 + i,
             "completion_pct": 80.0} for i, c in enumerate(movielens.catalog.content[-5:])]
    assert publish(first.settings, tail).sent == 5
    wait_for(lambda: (lambda r: r[0] == 200 and str(movielens.catalog.content[-1]) in r[1]["seen"])(
        http_json(f"{first.base_url}/users/{user}")), 60, "the tail in the first worker")
    _, before = http_json(f"{first.base_url}/users/{user}")
    first.process.kill()
    first.process.wait(timeout=30)
    covered = sum(GraphStore.load(snapshot)[1].values())
    assert seeded <= covered <= seeded + 5

    second = workers.start()
    wait_for(lambda: http_json(f"{second.base_url}/readyz")[0] == 200, 120, "the restarted worker to be ready")
    # ready: what waited in the log is in the graph and the vectors of it are out, so the
    # user's history and watermark are complete at once
    status, after = http_json(f"{second.base_url}/users/{user}")
    assert status == 200 and set(after["seen"]) >= set(before["seen"]) and after["event_ms"] == before["event_ms"]
    # Exactly the events after the snapshot are read again: none lost, none read twice.
    read = lambda: metric_sum(second.base_url, "freshrec_events_total", outcome="read")  # noqa: E731
    wait_for(lambda: read() == seeded + 5 - covered, 60, "the restarted worker to read the tail")
    time.sleep(2)
    assert read() == seeded + 5 - covered
