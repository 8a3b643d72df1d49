"""Fixtures for end-to-end tests: a trained checkpoint and a worker process on the real broker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint trained by ``freshrec train`` on the bundled MovieLens data (short run)."""
    out = tmp_path_factory.mktemp("model") / "movielens.pt"
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "train", "--dataset", "movielens", "--out", str(out),
         "--epochs", "1", "--max-minutes", "0.5"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert out.exists()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def metric_sum(base_url: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``, read from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25):
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (OSError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last result: {last!r}")


@dataclass
class Worker:
    settings: Settings
    base_url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


class WorkerFactory:
    """Starts ``freshrec worker --serve`` processes on one set of topics; stops them all at the end."""

    def __init__(self, kafka_bootstrap: str, topic_prefix: str, checkpoint: Path, tmp_path: Path) -> None:
        self.kafka_bootstrap, self.topic_prefix = kafka_bootstrap, topic_prefix
        self.checkpoint, self.tmp_path = checkpoint, tmp_path
        self.started: list[Worker] = []

    def start(self) -> Worker:
        port = free_port()
        env = dict(os.environ)
        env.update(
            FRESHREC_KAFKA_BOOTSTRAP=self.kafka_bootstrap, FRESHREC_TOPIC_PREFIX=self.topic_prefix,
            FRESHREC_HTTP_PORT=str(port), FRESHREC_CHECKPOINT=str(self.checkpoint),
            FRESHREC_STATE_DIR=str(self.tmp_path / "state"), FRESHREC_REEMBED_INTERVAL_S="0.5",
            FRESHREC_SNAPSHOT_INTERVAL_S="1",
        )
        log_path = self.tmp_path / f"worker-{len(self.started)}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "--serve"], cwd=REPO,
                                       env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        settings = Settings(kafka_bootstrap=self.kafka_bootstrap, topic_prefix=self.topic_prefix, http_port=port)
        handle = Worker(settings, base, process, log_path)
        self.started.append(handle)

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the worker exited with {process.returncode}:\n{handle.log()}")
            return http_json(f"{base}/healthz")[0] == 200

        wait_for(up, 120, "the worker's HTTP server")
        return handle

    def stop_all(self) -> None:
        for handle in self.started:
            if handle.process.poll() is None:
                handle.process.terminate()
                try:
                    handle.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    handle.process.kill()


@pytest.fixture
def workers(kafka_bootstrap: str, topic_prefix: str, checkpoint: Path, tmp_path: Path) -> Iterator[WorkerFactory]:
    factory = WorkerFactory(kafka_bootstrap, topic_prefix, checkpoint, tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def worker(workers: WorkerFactory) -> Worker:
    """One ``freshrec worker --serve`` process on this test's own topics."""
    return workers.start()
