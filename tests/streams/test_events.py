"""The event schema: valid events decode to records, every kind of bad input names its field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph_store.events import (
    CatalogUpsert, EventKind, Interaction, InvalidEvent, decode, from_mapping, key_of, to_mapping,
)

TS = 1_700_000_000_000


def test_watch_decodes_with_int_ids_turned_into_strings() -> None:
    event = decode(json.dumps({"user_id": 7, "content_id": "c1", "timestamp": TS, "completion_pct": 55.5}),
                   EventKind.WATCH)
    assert event == Interaction(EventKind.WATCH, "7", "c1", TS, 55.5)
    assert key_of(event) == "7"


def test_like_ignores_completion_and_unknown_fields() -> None:
    event = from_mapping({"type": "like", "user_id": "u", "content_id": "c", "timestamp": TS,
                          "completion_pct": 10, "extra": [1, 2]})
    assert event == Interaction(EventKind.LIKE, "u", "c", TS, None)


def test_catalog_round_trips_and_is_keyed_by_content() -> None:
    raw = {"type": "catalog", "content_id": "c9", "timestamp": TS, "creator_id": "k", "tags": ["a", "b", "a"],
           "duration_s": 31.5, "genre": "Comedy", "title": "A film"}
    event = from_mapping(raw)
    assert isinstance(event, CatalogUpsert)
    assert event.tags == ("a", "b")
    assert key_of(event) == "c9"
    assert from_mapping(to_mapping(event)) == event


@pytest.mark.parametrize(
    ("payload", "kind", "needle"),
    [
        (b"{not json", EventKind.WATCH, "not valid JSON"),
        (b"[1, 2]", EventKind.WATCH, "JSON object"),
        (b'{"content_id": "c", "timestamp": 1700000000000}', EventKind.LIKE, "missing field 'user_id'"),
        (b'{"user_id": "u", "content_id": "c"}', EventKind.SHARE, "missing field 'timestamp'"),
        (b'{"user_id": "u", "content_id": "c", "timestamp": 1.7e12}', EventKind.LIKE, "integer epoch milliseconds"),
        (b'{"user_id": "u", "content_id": "c", "timestamp": 1700000000}', EventKind.LIKE, "outside"),
        (b'{"user_id": "u", "content_id": "c", "timestamp": 1700000000000, "completion_pct": 140}',
         EventKind.WATCH, "completion_pct 140 is outside 0-100"),
        (b'{"user_id": true, "content_id": "c", "timestamp": 1700000000000}', EventKind.LIKE, "user_id must be"),
        (b'{"user_id": "", "content_id": "c", "timestamp": 1700000000000}', EventKind.LIKE, "user_id is empty"),
        (b'{"type": "like", "user_id": "u", "content_id": "c", "timestamp": 1700000000000}', EventKind.WATCH,
         "does not belong on the watch topic"),
        (b'{"content_id": "c", "timestamp": 1700000000000, "tags": "a,b"}', EventKind.CATALOG, "tags must be a list"),
        (b'\xff\xfe', EventKind.WATCH, "not valid JSON"),
    ],
)
def test_bad_events_name_what_is_wrong(payload: bytes, kind: EventKind, needle: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        decode(payload, kind)
    assert needle in err.value.reason


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(InvalidEvent, match="unknown event type 'click'"):
        from_mapping({"type": "click", "user_id": "u", "content_id": "c", "timestamp": TS})


@given(st.binary(max_size=200))
def test_arbitrary_bytes_either_decode_or_raise_invalid_event(payload: bytes) -> None:
    for kind in EventKind:
        try:
            event = decode(payload, kind)
        except InvalidEvent as exc:
            assert exc.reason
        else:
            assert from_mapping(to_mapping(event), kind) == event


FIELDS = st.sampled_from(["type", "user_id", "content_id", "timestamp", "completion_pct", "tags", "creator_id",
                          "duration_s", "genre", "title"])
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
          | st.sampled_from(["watch", "like", "catalog"]) | st.integers(TS, TS + 10**9))


@given(st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELDS, inner, max_size=8),
                    max_leaves=16))
def test_arbitrary_json_values_never_escape_as_other_errors(obj: object) -> None:
    for kind in EventKind:
        try:
            from_mapping(obj, kind)
        except InvalidEvent:
            pass
