"""The embedded Kafka broker: started through ``deploy/kafka/kafka.sh`` unless a cluster is configured."""

from __future__ import annotations

import os
import subprocess

from streams.settings import REPO_ROOT, Settings

SCRIPT = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"


def _run(settings: Settings, action: str) -> None:
    if not SCRIPT.exists():
        raise FileNotFoundError(
            f"{SCRIPT.name} is not beside this installation; run freshrec from a checkout "
            "or set FRESHREC_KAFKA_BOOTSTRAP to an existing cluster"
        )
    env = dict(os.environ)
    env.pop("FRESHREC_KAFKA_BOOTSTRAP", None)
    env["FRESHREC_KAFKA_PORT"] = str(settings.kafka_port)
    env["FRESHREC_KAFKA_DATA"] = str(settings.state_dir / "kafka")
    done = subprocess.run(["bash", str(SCRIPT), action], env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kafka.sh {action} failed (exit {done.returncode}); see the messages above")


def ensure_broker(settings: Settings) -> str:
    """Start the embedded broker if no cluster is configured; returns the bootstrap address."""
    if settings.embedded_kafka:
        _run(settings, "start")
    return settings.bootstrap


def stop_broker(settings: Settings) -> None:
    if settings.embedded_kafka:
        _run(settings, "stop")
