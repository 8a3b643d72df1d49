"""The real Prometheus server: our config and rules load, and it scrapes a live worker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest

from tests.integration.conftest import REPO, Worker, free_port, http_json, wait_for

DEPLOY = REPO / "deploy" / "prometheus"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; .ci/run installs Debian's prometheus package")
        pytest.skip(f"{name} is not installed (apt-get install prometheus)")
    return path


def test_shipped_config_and_rules_are_valid() -> None:
    promtool = _tool("promtool")
    for args in (["check", "config", str(DEPLOY / "prometheus.yml")], ["check", "rules", str(DEPLOY / "rules.yml")]):
        done = subprocess.run([promtool, *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.kafka
def test_prometheus_scrapes_the_worker_and_evaluates_our_rules(worker: Worker, tmp_path) -> None:
    prometheus, promtool = _tool("prometheus"), _tool("promtool")
    with urllib.request.urlopen(f"{worker.base_url}/metrics") as response:
        exposition = response.read()
    lint = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    from streams.producer import publish

    events = [{"type": "like", "user_id": f"u{i}", "content_id": "c1", "timestamp": 1_700_000_000_000 + i}
              for i in range(25)]
    assert publish(worker.settings, events).sent == 25

    target = worker.base_url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{json.dumps(str(DEPLOY / 'rules.yml'))}]\n"
        f"scrape_configs: [{{job_name: freshrec, static_configs: [{{targets: [{json.dumps(target)}]}}]}}]\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    server = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                               f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1/query?query="

    def value(query: str) -> float | None:
        assert server.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
        status, body = http_json(api + urllib.parse.quote(query))
        result = body.get("data", {}).get("result", []) if status == 200 else []
        return float(result[0]["value"][1]) if result else None

    try:
        read = wait_for(lambda: (v := value(f'sum(freshrec_events_total{{outcome="read",'
                                            f'topic="{worker.settings.topic("like")}"}})')) is not None and v >= 25
                        and v, 90, "Prometheus to see the 25 events read")
        assert read == 25
        assert wait_for(lambda: value('up{job="freshrec"}'), 30, "the scrape target up") == 1
        wait_for(lambda: value("freshrec:events_read:rate1m") is not None, 60, "our recording rule to evaluate")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
