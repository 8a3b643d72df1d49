"""The CLI: arguments and settings errors, and `produce --stdin` against the real broker."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from kafka import KafkaConsumer

from streams.cli import build_parser, main
from tests.conftest import REPO


def test_every_command_is_wired() -> None:
    parser = build_parser()
    for argv in (["run"], ["worker", "--serve"], ["serve"], ["produce", "--stdin"], ["train"], ["evaluate"],
                 ["kafka", "start"]):
        assert callable(parser.parse_args(argv).func)


def test_a_bad_setting_is_reported_with_exit_code_2(monkeypatch, capsys) -> None:
    monkeypatch.setenv("FRESHREC_HTTP_PORT", "eighty")
    assert main(["worker"]) == 2
    assert "http_port" in capsys.readouterr().err


def test_a_missing_checkpoint_says_how_to_make_one(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("FRESHREC_CHECKPOINT", str(tmp_path / "none.pt"))
    assert main(["worker"]) == 1
    assert "run `freshrec train" in capsys.readouterr().err


@pytest.mark.kafka
def test_produce_from_stdin_sends_good_lines_and_names_bad_ones(kafka_bootstrap: str, topic_prefix: str) -> None:
    good = {"type": "like", "user_id": "u1", "content_id": "c1", "timestamp": 1_700_000_000_000}
    bad = {"type": "watch", "user_id": "u1", "content_id": "c1", "timestamp": 1_700_000_000_000,
           "completion_pct": 140}
    lines = "\n".join(json.dumps(e) for e in (good, bad, good | {"content_id": "c2"})) + "\n"
    done = subprocess.run([sys.executable, "-m", "streams.cli", "produce", "--stdin"], cwd=REPO, input=lines,
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "FRESHREC_KAFKA_BOOTSTRAP": kafka_bootstrap,
                               "FRESHREC_TOPIC_PREFIX": topic_prefix})
    assert done.returncode == 1
    assert "event 2: completion_pct 140 is outside 0-100" in done.stderr
    assert "sent 2 events" in done.stderr

    consumer = KafkaConsumer(f"{topic_prefix}.like", bootstrap_servers=kafka_bootstrap, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    received = [(m.key, json.loads(m.value)) for m in consumer]
    consumer.close()
    assert [(k, v["content_id"]) for k, v in received] == [(b"u1", "c1"), (b"u1", "c2")]
