"""The vector record: what the updater publishes and what serving indexes.

On the embeddings topic a record is keyed ``"<kind>:<id>"`` (so log compaction keeps the
newest vector per node) and its value is one line of JSON metadata, a newline, then the
vector as little-endian float32 bytes. Binary vectors keep a 64-d record near 400 bytes
and decode without parsing floats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

VectorKind = Literal["user", "content"]
KINDS: Final = ("user", "content")


class InvalidVector(ValueError):
    """A vector record that cannot be decoded; the message says which part is wrong."""


@dataclass(frozen=True, slots=True)
class VectorRecord:
    """One refreshed vector.

    Attributes:
        kind: ``"user"`` or ``"content"``.
        id: the external id.
        vector: float32 ``[dim]``.
        model_version: the checkpoint version that produced it.
        event_ms: event-time watermark: the newest event the vector has seen.
        produced_ms: wall-clock time the vector was computed.
        seen: for users, the content ids they already interacted with (the seen-filter).
        appended_ms: for users, the Kafka append time of the newest event behind this vector,
            when the updater read it (None after a restore or for content): serving measures
            event-to-visible freshness per vector from it.
    """

    kind: VectorKind
    id: str
    vector: np.ndarray
    model_version: str
    event_ms: int
    produced_ms: int
    seen: tuple[str, ...] = field(default=())
    appended_ms: int | None = None

    @property
    def key(self) -> bytes:
        return f"{self.kind}:{self.id}".encode()


def encode(record: VectorRecord) -> bytes:
    meta = {
        "kind": record.kind,
        "id": record.id,
        "model": record.model_version,
        "event_ms": record.event_ms,
        "produced_ms": record.produced_ms,
        "dim": int(record.vector.shape[0]),
    }
    if record.seen:
        meta["seen"] = list(record.seen)
    if record.appended_ms is not None:
        meta["appended_ms"] = record.appended_ms
    return json.dumps(meta, separators=(",", ":")).encode() + b"\n" + np.ascontiguousarray(
        record.vector, dtype="<f4"
    ).tobytes()


def decode(payload: bytes) -> VectorRecord:
    head, sep, body = payload.partition(b"\n")
    if not sep:
        raise InvalidVector("no newline between metadata and vector bytes")
    try:
        meta = json.loads(head)
        kind, dim = meta["kind"], int(meta["dim"])
        record_id, model, event_ms, produced_ms = meta["id"], meta["model"], meta["event_ms"], meta["produced_ms"]
        appended = meta.get("appended_ms")
        appended_ms = None if appended is None else int(appended)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidVector(f"bad metadata {head[:200]!r}: {exc}") from exc
    if kind not in KINDS:
        raise InvalidVector(f"kind {kind!r} is not one of {KINDS}")
    if len(body) != 4 * dim:
        raise InvalidVector(f"vector has {len(body)} bytes; dim {dim} needs {4 * dim}")
    vector = np.frombuffer(body, dtype="<f4").astype(np.float32)
    return VectorRecord(kind, str(record_id), vector, str(model), int(event_ms), int(produced_ms),
                        tuple(meta.get("seen", ())), appended_ms)


#: Key of the trending-list record on the embeddings topic (compaction keeps the newest).
TRENDING_KEY: Final = b"trending"


def encode_trending(items: list[tuple[str, float]]) -> bytes:
    """The fallback list for users without a vector, as published next to the vectors."""
    return json.dumps([[cid, round(float(score), 6)] for cid, score in items], separators=(",", ":")).encode()


def decode_trending(payload: bytes) -> list[tuple[str, float]]:
    try:
        return [(str(cid), float(score)) for cid, score in json.loads(payload)]
    except (ValueError, TypeError) as exc:
        raise InvalidVector(f"bad trending record: {exc}") from exc
