"""The updater without Kafka: what a refresh re-embeds, and that an idle one does nothing."""

from __future__ import annotations

import json
import time

import pytest
import torch

from graph_store.events import EventKind
from graph_store.schema import CONTENT
from graph_store.store import GraphStore
from model.checkpoint import Checkpoint
from model.embedder import Embedder
from model.encoders import FeatureEncoders
from model.sage import HeteroSAGE
from streams import metrics
from streams.runtime import open_store
from streams.settings import Settings
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
    # the user record carries the Kafka time of its newest applied event (the dead letter's is not it)
    assert [r.appended_ms for r in first.records if r.kind == "user"] == [T0 + 1]
    assert first.trending is not None and [cid for cid, _ in first.trending] == ["c0"]

    idle = updater.refresh()
    assert idle.records == [] and idle.trending is None

    # a catalog update that only changes features still changes that content's vector
    updater.ingest([_message(EventKind.CATALOG, 3, content_id="c1", timestamp=T0 + 2, duration_s=9.0)])
    after = updater.refresh()
    assert "c1" in _ids(after.records, "content") and _ids(after.records, "user") == set()

    updater.ingest([_message(EventKind.LIKE, 4, user_id="u1", content_id="c0", timestamp=T0 + 3)])
    assert _ids(updater.refresh().records, "user") == {"u1"}


def test_retention_drops_old_interactions_at_a_refresh(updater: Updater) -> None:
    updater.store = GraphStore(retention_ms=1_000, segment_edges=2)
    day = 86_400_000
    updater.ingest([_message(EventKind.WATCH, i, user_id="u0", content_id=f"c{i}", timestamp=T0 + i * day,
                             completion_pct=50.0) for i in range(5)])
    evicted = metrics.EDGES_EVICTED._value.get()
    updater.refresh()
    # whole segments of two edges go: {0, 1} and {2, 3} are older than the newest minus 1 s
    assert updater.store.num_edges() == 1 and metrics.EDGES_EVICTED._value.get() == evicted + 4
    assert updater.store.external(CONTENT, updater.store.seen(0)) == ["c4"]
    # later events of another user push u0's last watch out: u0 and c4 are re-embedded
    times = [T0 + 10 * day, T0 + 11 * day, T0 + 11 * day + 1]
    updater.ingest([_message(EventKind.WATCH, 5 + i, user_id="u1", content_id=f"c{5 + i}", timestamp=t,
                             completion_pct=50.0) for i, t in enumerate(times)])
    later = updater.refresh().records
    assert updater.store.seen(0).size == 0
    assert _ids(later, "user") == {"u0", "u1"} and {"c4", "c5"} <= _ids(later, "content")


def test_open_store_applies_retention_and_half_life_to_a_restored_snapshot(tmp_path) -> None:
    settings = Settings(state_dir=tmp_path, retention_days=2.0, trending_half_life_s=60.0)
    fresh, offsets = open_store(settings)
    assert offsets == {} and fresh.retention_ms == 2 * 86_400_000 and fresh.trending_half_life_ms == 60_000
    old = build_tiny_store()  # 1-hour half-life, no retention
    settings.snapshot_path().parent.mkdir(parents=True)
    old.save(settings.snapshot_path(), {"t.watch:0": 5})
    store, offsets = open_store(settings)
    assert offsets == {"t.watch:0": 5} and store.retention_ms == 2 * 86_400_000
    assert store.trending_half_life_ms == 60_000 and store.num_edges() == old.num_edges()
    # likes, watches and shares at T0+10..50 (ms): c0 aged 40 and 0, c1 30 and 20, c2 10
    idx, score = store.trending(3)
    decay = lambda age_ms: 2 ** (-age_ms / 60_000)  # noqa: E731
    expected = {"c0": decay(40) + 1, "c1": decay(30) + decay(20), "c2": decay(10)}
    got = dict(zip(store.external(CONTENT, idx), score.tolist()))
    assert got == pytest.approx(expected, rel=1e-12, abs=0)
    assert dict(zip(old.external(CONTENT, old.trending(3)[0]), old.trending(3)[1])) != pytest.approx(
        expected, rel=1e-9, abs=0)  # the snapshot's own 1-hour scores differ


def test_a_capped_backlog_re_embeds_the_trending_content_first_and_users_after_it(updater: Updater) -> None:
    updater.max_reembed, updater.trending_k = 4, 2
    day = 86_400_000
    # c0..c9 watched once long ago; c7 and c8 watched just now: the trending two
    updater.ingest([_message(EventKind.WATCH, i, user_id=f"u{i}", content_id=f"c{i}", timestamp=T0 + i,
                             completion_pct=50.0) for i in range(10)])
    updater.ingest([_message(EventKind.WATCH, 10 + i, user_id="v", content_id=c, timestamp=T0 + 30 * day + i,
                             completion_pct=50.0) for i, c in enumerate(["c7", "c8"])])
    for _ in range(10):  # the first backlog, 4 a tick
        updater.refresh()
    assert updater.idle()
    updater.mark_all_dirty()  # as after a restart on a new checkpoint: 10 content, 11 users, 4 per tick
    ticks = [updater.refresh().records for _ in range(4)]
    # the trending two in every tick (half the room at most), the backlog in the rest
    assert all({"c7", "c8"} <= _ids(t, "content") and len(_ids(t, "content")) == 4 for t in ticks)
    assert set().union(*(_ids(t, "content") for t in ticks)) == {f"c{i}" for i in range(10)}
    # users wait until all content is out (they are ranked against it)
    assert [len(_ids(t, "user")) for t in ticks] == [0, 0, 0, 4]


def test_trending_beyond_the_cap_does_not_starve_the_backlog(updater: Updater) -> None:
    updater.max_reembed, updater.trending_k = 2, 5
    updater.ingest([_message(EventKind.WATCH, i, user_id=f"u{i}", content_id=f"c{i}", timestamp=T0 + i,
                             completion_pct=50.0) for i in range(6)])
    updater.refresh()
    updater.mark_all_dirty()
    done: set[str] = set()
    for _ in range(20):
        done |= _ids(updater.refresh().records, "user")
    assert done == {f"u{i}" for i in range(6)}


def test_a_user_record_lists_the_most_recent_items_within_its_limits(updater: Updater, monkeypatch) -> None:
    updater.seen_limit = 3
    updater.ingest([_message(EventKind.WATCH, i, user_id="u0", content_id=f"c{i}", timestamp=T0 + i,
                             completion_pct=50.0) for i in range(6)])
    (user,) = [r for r in updater.refresh().records if r.kind == "user"]
    assert user.seen == ("c5", "c4", "c3")
    # ids that would overflow the record's byte budget are left out too: 2 of 6 bytes each fit
    monkeypatch.setattr("streams.updater.SEEN_BYTES", 12)
    updater.ingest([_message(EventKind.LIKE, 6, user_id="u0", content_id="c0", timestamp=T0 + 9)])
    (user,) = [r for r in updater.refresh().records if r.kind == "user"]
    assert user.seen == ("c0", "c5")


class _SlowEmbedder(Embedder):
    """The real embedder, taking ``delay_s`` longer per call (a busy machine)."""

    delay_s = 0.2

    def embed(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        vectors = super().embed(*args, **kwargs)
        time.sleep(self.delay_s)
        return vectors


def test_records_are_stamped_when_their_vectors_are_computed(updater: Updater) -> None:
    updater.embedder.__class__ = _SlowEmbedder
    updater.ingest([
        _message(EventKind.CATALOG, 0, content_id="c0", timestamp=T0, duration_s=30.0, tags=["a"]),
        _message(EventKind.WATCH, 1, user_id="u0", content_id="c0", timestamp=T0 + 1, completion_pct=80.0),
    ])
    started_ms = time.time() * 1000
    records = updater.refresh().records
    # content is embedded first, users second: each stamp comes after its own embedding
    content = [r.produced_ms for r in records if r.kind == "content"]
    users = [r.produced_ms for r in records if r.kind == "user"]
    assert content and min(content) >= started_ms + 1000 * _SlowEmbedder.delay_s
    assert users and min(users) >= started_ms + 2000 * _SlowEmbedder.delay_s
