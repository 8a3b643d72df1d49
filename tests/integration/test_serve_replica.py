"""`freshrec serve` bootstraps from the compacted embeddings topic and answers like the worker."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest

from model.datasets import catalog_events, interaction_events, load_dataset
from streams.producer import publish
from tests.integration.conftest import REPO, Worker, free_port, http_json, wait_for

pytestmark = pytest.mark.kafka


def test_a_replica_serves_what_the_worker_serves(worker: Worker, tmp_path) -> None:
    movielens = load_dataset("movielens")
    events = list(catalog_events(movielens)) + list(itertools.islice(interaction_events(movielens.interactions), 1500))
    publish(worker.settings, events)
    user = events[-1]["user_id"]
    wait_for(lambda: http_json(f"{worker.base_url}/users/{user}")[0] == 200, 120, f"user {user} in the worker")
    assert http_json(f"{worker.base_url}/readyz") == (200, {"status": "ready"})

    port = free_port()
    env = dict(os.environ, FRESHREC_KAFKA_BOOTSTRAP=worker.settings.bootstrap,
               FRESHREC_TOPIC_PREFIX=worker.settings.topic_prefix, FRESHREC_HTTP_PORT=str(port),
               FRESHREC_STATE_DIR=str(tmp_path / "replica"))
    log = (tmp_path / "replica.log").open("w")
    replica = subprocess.Popen([sys.executable, "-m", "streams.cli", "serve"], cwd=REPO, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"/recommendations/{user}?k=10"

        def same() -> dict | None:
            assert replica.poll() is None, (tmp_path / "replica.log").read_text()
            status, theirs = http_json(f"http://127.0.0.1:{port}{url}")
            _, ours = http_json(worker.base_url + url)
            return theirs if status == 200 and theirs["source"] == "personal" and theirs == ours else None

        answer = wait_for(same, 120, "the replica to answer like the worker")
        assert len(answer["items"]) == 10
        status, health = http_json(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and health["content_vectors"] > 0
        assert http_json(f"http://127.0.0.1:{port}/readyz") == (200, {"status": "ready"})
    finally:
        replica.terminate()
        replica.wait(timeout=30)
        log.close()
