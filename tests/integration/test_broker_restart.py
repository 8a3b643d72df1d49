"""A worker rides out a restart of its broker: nothing lost, nothing read twice.

The test runs its own single-node broker (restarting the session's would disturb other
tests), stops it under a running worker, starts it again on the same data, and checks the
worker's event accounting against what was produced.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.datasets import catalog_events, interaction_events, load_dataset
from streams.producer import publish
from tests.conftest import KAFKA_SCRIPT
from tests.integration.conftest import WorkerFactory, http_json, metric_sum, wait_for

pytestmark = pytest.mark.kafka

EVENTS = 2000


class Broker:
    """``deploy/kafka/kafka.sh`` on a port of its own, with a data folder that outlives restarts."""

    def __init__(self, port: int, data: Path) -> None:
        self.bootstrap = f"127.0.0.1:{port}"
        self.env = {k: v for k, v in os.environ.items() if k != "FRESHREC_KAFKA_BOOTSTRAP"}
        self.env.update(FRESHREC_KAFKA_PORT=str(port), FRESHREC_KAFKA_DATA=str(data))

    def run(self, action: str) -> None:
        subprocess.run(["bash", str(KAFKA_SCRIPT), action], env=self.env, check=action == "start", timeout=180)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    # beside the session broker's client and controller ports
    port = int(os.environ.get("FRESHREC_TEST_KAFKA_PORT", "29192")) + 10
    broker = Broker(port, tmp_path / "kafka")
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")


def test_a_worker_rides_out_a_broker_restart_with_exact_accounting(own_broker: Broker, checkpoint: Path,
                                                                  tmp_path: Path) -> None:
    movielens = load_dataset("movielens")
    workers = WorkerFactory(own_broker.bootstrap, f"t{uuid.uuid4().hex[:10]}", checkpoint, tmp_path)
    try:
        worker = workers.start()
        catalog = list(catalog_events(movielens))
        events = list(itertools.islice(interaction_events(movielens.interactions), 3 * EVENTS))
        head, mid, tail = catalog + events[:EVENTS], events[EVENTS:2 * EVENTS], events[2 * EVENTS:]
        assert publish(worker.settings, head).sent == len(head)
        read = lambda: metric_sum(worker.base_url, "freshrec_events_total", outcome="read")  # noqa: E731
        wait_for(lambda: read() == len(head), 120, "the events before the restart")

        # acknowledged by the broker, then the broker goes away while the worker reads them
        assert publish(worker.settings, mid).sent == len(mid)
        own_broker.run("stop")
        time.sleep(3)  # the worker polls, commits and publishes against a broker that is gone
        assert worker.process.poll() is None, worker.log()
        own_broker.run("start")

        assert publish(worker.settings, tail).sent == len(tail)
        total = len(head) + len(mid) + len(tail)
        wait_for(lambda: read() == total, 180, "the events after the restart")
        user = tail[-1]["user_id"]
        wait_for(lambda: (lambda r: r[0] == 200 and tail[-1]["content_id"] in r[1]["seen"])(
            http_json(f"{worker.base_url}/users/{user}")), 60, "the last event in its user's vector")
        time.sleep(2)
        # every event read once: none lost in the outage, none read again after it
        assert read() == total
        assert metric_sum(worker.base_url, "freshrec_duplicate_events_total") == 0
        assert worker.process.poll() is None, worker.log()
        # the clients' retry errors, at most one of a kind per 10 s (up to 49,000 lines without, when they spin)
        assert len(worker.log_path.read_text(errors="replace").splitlines()) < 500, worker.log()
    finally:
        workers.stop_all()
