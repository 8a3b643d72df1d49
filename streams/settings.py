"""One settings object per process, read from ``FRESHREC_*`` environment variables.

Defaults run on one laptop: an embedded broker on 127.0.0.1:29092, the bundled
MovieLens data, the HTTP API on 127.0.0.1:8080. Only the entry point builds a Settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRESHREC_", extra="ignore")

    #: An existing cluster ("host:port[,host:port]"). Unset: the embedded broker is started.
    kafka_bootstrap: str | None = None
    kafka_port: int = Field(29092, ge=1, le=65535, description="client port of the embedded broker")
    topic_prefix: str = "freshrec"
    partitions: int = Field(4, ge=1, description="partitions of topics freshrec creates")

    state_dir: Path = REPO_ROOT / ".freshrec"
    dataset: Literal["movielens", "kuairand"] = "movielens"
    checkpoint: Path | None = None  # default: see checkpoint_path()

    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    worker_metrics_port: int = Field(8081, ge=0, le=65535, description="/metrics of a worker without serving")
    worker_id: str = "worker-1"

    reembed_interval_s: float = Field(1.0, gt=0)
    max_batch: int = Field(5000, ge=1, description="events folded into the graph per batch")
    batch_wait_s: float = Field(0.05, ge=0, description="longest poll for events while none are buffered")
    commit_interval_s: float = Field(1.0, gt=0, description="offsets of applied events are committed this often")
    trending_k: int = Field(200, ge=0, description="trending content re-embedded each tick and used as fallback")
    max_reembed: int = Field(20000, ge=1, description="cap on nodes re-embedded per tick; the rest wait")
    fanouts: tuple[int, ...] = (10, 10)
    compute_threads: int = Field(1, ge=1, description="threads of the model and the FAISS search (one OpenMP pool)")
    seen_limit: int = Field(5000, ge=1, description="a user's most recent items kept out of their recommendations")
    snapshot_interval_s: float = Field(30.0, ge=0, description="graph snapshot period; 0 turns snapshots off")
    retention_days: float | None = Field(
        None, gt=0, description="interactions older than this (event time) leave the graph; unset keeps all")
    trending_half_life_s: float = Field(3600.0, gt=0, description="half-life of the trending score")

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def embedded_kafka(self) -> bool:
        return self.kafka_bootstrap is None

    def trained_checkpoint(self) -> Path:
        """Where ``freshrec train`` writes by default."""
        return self.state_dir / f"model-{self.dataset}.pt"

    def checkpoint_path(self) -> Path:
        """The checkpoint to serve: the configured one, else a locally trained one, else
        the one shipped with the project for the dataset (if any)."""
        if self.checkpoint is not None:
            return self.checkpoint
        trained = self.trained_checkpoint()
        shipped = REPO_ROOT / "model" / "checkpoints" / f"{self.dataset}.pt"
        return shipped if shipped.exists() and not trained.exists() else trained

    def snapshot_path(self) -> Path:
        """This worker's graph snapshot (one per topic prefix and worker id)."""
        return self.state_dir / "graph" / f"{self.topic_prefix}-{self.worker_id}.npz"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"
