"""The updater without Kafka: what a refresh re-embeds, and that an idle one does nothing."""

from __future__ import annotations

import json

import pytest
import torch

from graph_store.events import EventKind
from graph_store.store import GraphStore
from model.checkpoint import Checkpoint
from model.embedder import Embedder
from model.encoders import FeatureEncoders
from model.sage import HeteroSAGE
from streams.updater import RawMessage, Updater
from tests.model.conftest import T0, build_tiny_store

TOPICS = {f"t.{kind.value}": kind for kind in EventKind}


def _message(kind: EventKind, offset: int, **event: object) -> RawMessage:
    value = json.dumps({"type": kind.value, **event}).encode()
    return RawMessage(f"t.{kind.value}", 0, offset, None, value, T0 + offset)


@pytest.fixture
def updater() -> Updater:
    torch.manual_seed(0)
    enc = FeatureEncoders.fit(build_tiny_store())
    model = HeteroSAGE(enc.widths(), hash_buckets=enc.hash_buckets, hidden=16, dim=8).eval()
    return Updater(GraphStore(), Embedder(Checkpoint(model, enc)), TOPICS, trending_k=10)


def _ids(records: list, kind: str) -> set[str]:
    return {r.id for r in records if r.kind == kind}


def test_a_refresh_embeds_what_changed_and_an_idle_one_publishes_nothing(updater: Updater) -> None:
    result = updater.ingest([
        _message(EventKind.CATALOG, 0, content_id="c0", timestamp=T0, duration_s=30.0, tags=["a"]),
        _message(EventKind.WATCH, 1, user_id="u0", content_id="c0", timestamp=T0 + 1, completion_pct=80.0),
        _message(EventKind.WATCH, 2, user_id="u0", content_id="broken", timestamp="yesterday"),
    ])
    assert result.applied.edges == 1 and len(result.dead) == 1 and "timestamp" in result.dead[0].reason

    first = updater.refresh()
    assert _ids(first.records, "user") == {"u0"} and _ids(first.records, "content") == {"c0"}
    assert first.trending is not None and [cid for cid, _ in first.trending] == ["c0"]

    idle = updater.refresh()
    assert idle.records == [] and idle.trending is None

    # a catalog update that only changes features still changes that content's vector
    updater.ingest([_message(EventKind.CATALOG, 3, content_id="c1", timestamp=T0 + 2, duration_s=9.0)])
    after = updater.refresh()
    assert "c1" in _ids(after.records, "content") and _ids(after.records, "user") == set()

    updater.ingest([_message(EventKind.LIKE, 4, user_id="u1", content_id="c0", timestamp=T0 + 3)])
    assert _ids(updater.refresh().records, "user") == {"u1"}
