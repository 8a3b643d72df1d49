"""A failure that is not the event's fault stops the worker, and the batch is not committed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.integration.conftest import REPO, free_port

pytestmark = pytest.mark.kafka

# Runs the real CLI with Updater.ingest replaced by one that fails like a bug would.
FAILING_WORKER = textwrap.dedent("""
    import sys
    from streams import updater

    def ingest(self, messages):
        raise RuntimeError("graph store unavailable")

    updater.Updater.ingest = ingest
    from streams.cli import main
    sys.exit(main(["worker", "--serve"]))
""")


def test_the_worker_exits_non_zero_and_commits_nothing(kafka_bootstrap: str, topic_prefix: str, checkpoint,
                                                       tmp_path) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    event = {"user_id": "u1", "content_id": "c1", "timestamp": 1_700_000_000_000, "completion_pct": 10.0}
    producer.send(f"{topic_prefix}.watch", key=b"u1", value=json.dumps(event).encode())
    producer.flush()
    producer.close()

    script = tmp_path / "failing_worker.py"
    script.write_text(FAILING_WORKER)
    env = dict(os.environ, FRESHREC_KAFKA_BOOTSTRAP=kafka_bootstrap, FRESHREC_TOPIC_PREFIX=topic_prefix,
               FRESHREC_HTTP_PORT=str(free_port()), FRESHREC_CHECKPOINT=str(checkpoint),
               PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode != 0
    assert "graph store unavailable" in done.stderr

    group = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=f"{topic_prefix}-updater",
                          enable_auto_commit=False)
    try:
        partitions = group.partitions_for_topic(f"{topic_prefix}.watch")
        committed = [group.committed(TopicPartition(f"{topic_prefix}.watch", p)) for p in partitions]
    finally:
        group.close()
    assert partitions and all(offset in (None, 0) for offset in committed)
