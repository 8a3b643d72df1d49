"""Index, ranking and the vector wire format on tiny cases with known answers."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from prometheus_client import REGISTRY

from serving.index import ContentIndex
from serving.recommender import Recommender
from serving.vectors import (
    TRENDING_KEY, InvalidVector, VectorRecord, decode, decode_trending, encode, encode_trending,
)


def record(kind: str, rid: str, vec: list[float], seen: tuple[str, ...] = (), model: str = "v1") -> VectorRecord:
    return VectorRecord(kind, rid, np.array(vec, np.float32), model, 1_700_000_000_000, 1_700_000_000_500, seen)


def test_index_ranks_by_inner_product_and_upsert_replaces() -> None:
    index = ContentIndex(2)
    index.upsert(["a", "b", "c"], np.array([[1, 0], [0, 1], [0.5, 0.5]], np.float32))
    assert [cid for cid, _ in index.search(np.array([1, 0.1]), 3)] == ["a", "c", "b"]
    index.upsert(["a"], np.array([[0, -1]], np.float32))
    assert len(index) == 3
    assert [cid for cid, _ in index.search(np.array([1, 0.1]), 3)] == ["c", "b", "a"]
    np.testing.assert_allclose(index.vector("a"), [0, -1])


def test_index_excludes_and_handles_small_catalogs() -> None:
    index = ContentIndex(2)
    assert index.search(np.array([1, 0]), 5) == []
    index.upsert(["a", "b"], np.array([[1, 0], [0, 1]], np.float32))
    assert index.search(np.array([1, 0]), 5, exclude=frozenset({"a"})) == [("b", 0.0)]


def test_index_rejects_wrong_shapes() -> None:
    index = ContentIndex(3)
    with pytest.raises(ValueError, match=r"expected \(1, 3\)"):
        index.upsert(["a"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="dim 2"):
        index.search(np.zeros(2), 1)


def test_recommender_filters_seen_and_falls_back_to_trending() -> None:
    rec = Recommender(2)
    rec.apply([record("content", "a", [1, 0]), record("content", "b", [0.9, 0]), record("content", "c", [0, 1]),
               record("user", "u1", [1, 0], seen=("a",))])
    rec.set_trending([("c", 3.0), ("b", 1.0)])
    personal = rec.recommend("u1", 2)
    assert personal.source == "personal"
    assert [cid for cid, _ in personal.items] == ["b", "c"]
    cold = rec.recommend("nobody", 1)
    assert cold.source == "trending" and cold.items == [("c", 3.0)]


def test_recommender_rejects_vectors_of_another_dimension() -> None:
    with pytest.raises(ValueError, match="have dim 2"):
        Recommender(2).apply([record("user", "u", [1, 2, 3])])
    # without a fixed width, the first vector of a model version sets it; a batch holding
    # another width for that version is refused whole
    rec = Recommender()
    with pytest.raises(ValueError, match="model v1 vectors have dim 2"):
        rec.apply([record("content", "a", [1, 0]), record("user", "u", [1, 0, 0])])
    assert rec.num_content() == 0 and rec.num_users() == 0 and rec.dim is None


def test_a_model_roll_out_ranks_each_user_in_its_own_models_space() -> None:
    rec = Recommender()
    rec.apply([record("content", "a", [1, 0]), record("content", "b", [0, 1]), record("user", "u", [1, 0]),
               record("user", "w", [0, 1])])
    # a new checkpoint of another width: its content first (nothing to rank against before)
    rec.apply([record("user", "w", [0, 0, 1], model="v2")])
    assert rec.recommend("w", 2).source == "trending" and rec.recommend("u", 1).items == [("a", 1.0)]
    rec.apply([record("content", "a", [0, 0, 1], model="v2"), record("content", "b", [1, 0, 0], model="v2")])
    assert rec.dim == 3 and rec.newest_version == "v2" and rec.versions() == {"v1": 2, "v2": 2}
    w = rec.recommend("w", 1)
    assert (w.source, w.model_version, w.items) == ("personal", "v2", [("a", 1.0)])
    u = rec.recommend("u", 1)  # still a v1 vector: ranked by the v1 content vectors
    assert (u.model_version, u.items) == ("v1", [("a", 1.0)])
    # the last v1 user moves to v2: the v1 index goes
    rec.apply([record("user", "u", [1, 0, 0], model="v2")])
    assert rec.versions() == {"v2": 2} and rec.recommend("u", 1).items == [("b", 1.0)]


def test_vector_record_round_trip() -> None:
    original = replace(record("user", "u7", [0.25, -1.5, 3.0], seen=("a", "b")), appended_ms=1_700_000_000_100)
    back = decode(encode(original))
    assert (back.kind, back.id, back.model_version, back.event_ms, back.produced_ms, back.seen, back.appended_ms) == (
        "user", "u7", "v1", original.event_ms, original.produced_ms, ("a", "b"), 1_700_000_000_100)
    assert decode(encode(record("content", "c", [1.0]))).appended_ms is None
    np.testing.assert_array_equal(back.vector, original.vector)
    assert original.key == b"user:u7" and TRENDING_KEY == b"trending"
    assert decode_trending(encode_trending([("a", 1.5)])) == [("a", 1.5)]


@pytest.mark.parametrize("payload", [b"no newline", b'{"kind":"user"}\n', b'{"kind":"x","id":1,"model":"m","event_ms":1,'
                                     b'"produced_ms":1,"dim":1}\n\x00\x00\x00\x00', b'{"kind":"user","id":1,"model":"m",'
                                     b'"event_ms":1,"produced_ms":1,"dim":2}\n\x00\x00\x00\x00'])
def test_bad_vector_records_raise(payload: bytes) -> None:
    with pytest.raises(InvalidVector):
        decode(payload)


def test_serving_measures_event_to_visible_per_user_vector() -> None:
    def observed(le: str) -> float:
        return REGISTRY.get_sample_value("freshrec_event_to_visible_seconds_bucket", {"le": le}) or 0.0

    rec, now_ms = Recommender(), int(time.time() * 1000)
    before = {le: observed(le) for le in ("1.0", "5.0", "+Inf")}
    rec.apply([record("content", "a", [1.0]), replace(record("user", "u", [1.0]), appended_ms=now_ms - 2_000),
               record("user", "w", [1.0])])  # w: no append time (a restored worker), not observed
    # one observation of about 2 s: above the 1 s bucket, within the 5 s one
    assert {le: observed(le) - n for le, n in before.items()} == {"1.0": 0.0, "5.0": 1.0, "+Inf": 1.0}


def test_a_replica_learns_the_dimension_from_the_first_vector() -> None:
    rec = Recommender()
    assert rec.dim is None and rec.recommend("u", 3).items == []
    rec.apply([record("content", "a", [1, 0, 0]), record("user", "u", [1, 0, 0])])
    assert rec.dim == 3 and rec.recommend("u", 3).items == [("a", 1.0)]
