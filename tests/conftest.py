"""Session fixtures: a real Kafka broker (started from deploy/kafka/kafka.sh unless one is given)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KAFKA_SCRIPT = REPO / "deploy" / "kafka" / "kafka.sh"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a real broker.

    ``FRESHREC_TEST_KAFKA_BOOTSTRAP`` names an existing one; otherwise a single-node
    broker is started on ``FRESHREC_TEST_KAFKA_PORT`` (default 29192) for the session.
    """
    given = os.environ.get("FRESHREC_TEST_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    port = os.environ.get("FRESHREC_TEST_KAFKA_PORT", "29192")
    env = {k: v for k, v in os.environ.items() if k != "FRESHREC_KAFKA_BOOTSTRAP"}
    env.update(FRESHREC_KAFKA_PORT=port, FRESHREC_KAFKA_DATA=str(tmp_path_factory.mktemp("kafka")))
    subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], env=env, check=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], env=env, check=False)


@pytest.fixture
def topic_prefix() -> str:
    """A prefix no other test uses, so each test has its own topics and consumer group."""
    return f"t{uuid.uuid4().hex[:10]}"
