"""The event schema: typed, frozen records, decoded and validated once where they enter.

Events travel as JSON objects, one per Kafka message (or per line of an events file).
Interaction topics are keyed by user id, the catalog topic by content id.

=========  ====================================================================
type       fields
=========  ====================================================================
watch      user_id, content_id, timestamp, completion_pct (0-100, or null)
like       user_id, content_id, timestamp
share      user_id, content_id, timestamp
catalog    content_id, timestamp, creator_id?, tags?, duration_s?, genre?, title?
=========  ====================================================================

Ids are strings (integers are accepted and turned into their decimal string); timestamps
are integer epoch milliseconds. Unknown fields are ignored so producers can add more.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Mapping

#: Timestamps are epoch milliseconds; these bounds (1995-01-01 .. 2100-01-01) catch
#: seconds (too small) and microseconds (too large) sent by mistake. MovieLens starts in 1996.
MIN_TIMESTAMP_MS: Final = 788_918_400_000
MAX_TIMESTAMP_MS: Final = 4_102_444_800_000
MAX_ID_LENGTH: Final = 256
MAX_TAGS: Final = 64


class EventKind(StrEnum):
    WATCH = "watch"
    LIKE = "like"
    SHARE = "share"
    CATALOG = "catalog"


INTERACTION_KINDS: Final = (EventKind.WATCH, EventKind.LIKE, EventKind.SHARE)


class InvalidEvent(ValueError):
    """An event that cannot be accepted; ``reason`` says what is wrong with which field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Interaction:
    """A user acted on a piece of content: watch, like or share."""

    kind: EventKind
    user_id: str
    content_id: str
    timestamp: int
    completion_pct: float | None = None


@dataclass(frozen=True, slots=True)
class CatalogUpsert:
    """Content metadata; fields left ``None`` or empty are unknown, not cleared."""

    content_id: str
    timestamp: int
    creator_id: str | None = None
    tags: tuple[str, ...] = ()
    duration_s: float | None = None
    genre: str | None = None
    title: str | None = None


Event = Interaction | CatalogUpsert


def _id(obj: Mapping[str, Any], field: str, *, required: bool = True) -> str | None:
    value = obj.get(field)
    if value is None:
        if required:
            raise InvalidEvent(f"missing field {field!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidEvent(f"{field} must be a string or integer, got {type(value).__name__} {value!r}")
    text = str(value).strip()
    if not text:
        raise InvalidEvent(f"{field} is empty")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidEvent(f"{field} is {len(text)} characters long; at most {MAX_ID_LENGTH} allowed")
    return text


def _timestamp(obj: Mapping[str, Any]) -> int:
    value = obj.get("timestamp")
    if value is None:
        raise InvalidEvent("missing field 'timestamp'")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent(f"timestamp must be integer epoch milliseconds, got {type(value).__name__} {value!r}")
    if not MIN_TIMESTAMP_MS <= value < MAX_TIMESTAMP_MS:
        raise InvalidEvent(
            f"timestamp {value} is outside {MIN_TIMESTAMP_MS}..{MAX_TIMESTAMP_MS} (epoch milliseconds expected)"
        )
    return value


def _number(obj: Mapping[str, Any], field: str, lo: float, hi: float) -> float | None:
    value = obj.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidEvent(f"{field} must be a finite number or null, got {value!r}")
    if not lo <= value <= hi:
        raise InvalidEvent(f"{field} {value} is outside {lo:g}-{hi:g}")
    return float(value)


def _text(obj: Mapping[str, Any], field: str, max_len: int = 1024) -> str | None:
    value = obj.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{field} must be a string or null, got {type(value).__name__} {value!r}")
    if len(value) > max_len:
        raise InvalidEvent(f"{field} is {len(value)} characters long; at most {max_len} allowed")
    return value.strip() or None


def _tags(obj: Mapping[str, Any]) -> tuple[str, ...]:
    value = obj.get("tags")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidEvent(f"tags must be a list of strings, got {type(value).__name__}")
    if len(value) > MAX_TAGS:
        raise InvalidEvent(f"tags has {len(value)} entries; at most {MAX_TAGS} allowed")
    out: list[str] = []
    for i, tag in enumerate(value):
        if not isinstance(tag, (str, int)) or isinstance(tag, bool):
            raise InvalidEvent(f"tags[{i}] must be a string, got {tag!r}")
        text = str(tag).strip()
        if not text or len(text) > MAX_ID_LENGTH:
            raise InvalidEvent(f"tags[{i}] {tag!r} is empty or longer than {MAX_ID_LENGTH}")
        out.append(text)
    return tuple(dict.fromkeys(out))


def from_mapping(obj: Any, kind: EventKind | str | None = None) -> Event:
    """Validate a decoded JSON object as an event of ``kind`` (or of its own ``type`` field).

    Raises:
        InvalidEvent: naming the field and the bad value.
    """
    if not isinstance(obj, dict):
        raise InvalidEvent(f"an event must be a JSON object, got {type(obj).__name__}")
    declared = obj.get("type")
    if kind is None and declared is None:
        raise InvalidEvent("missing field 'type' (one of watch, like, share, catalog)")
    for name in (declared, kind):
        if name is not None and name not in EventKind.__members__.values():
            raise InvalidEvent(f"unknown event type {name!r}; expected one of watch, like, share, catalog")
    chosen = kind if kind is not None else declared
    assert chosen is not None  # kind and declared cannot both be None: that raised above
    resolved = EventKind(chosen)
    if declared is not None and declared != resolved.value:
        raise InvalidEvent(f"type {declared!r} does not belong on the {resolved.value} topic")
    if resolved is EventKind.CATALOG:
        return CatalogUpsert(
            content_id=_id(obj, "content_id"),  # type: ignore[arg-type]
            timestamp=_timestamp(obj),
            creator_id=_id(obj, "creator_id", required=False),
            tags=_tags(obj),
            duration_s=_number(obj, "duration_s", 0.0, 1e7),
            genre=_text(obj, "genre", MAX_ID_LENGTH),
            title=_text(obj, "title"),
        )
    return Interaction(
        kind=resolved,
        user_id=_id(obj, "user_id"),  # type: ignore[arg-type]
        content_id=_id(obj, "content_id"),  # type: ignore[arg-type]
        timestamp=_timestamp(obj),
        completion_pct=_number(obj, "completion_pct", 0.0, 100.0) if resolved is EventKind.WATCH else None,
    )


def decode(payload: bytes | str, kind: EventKind | str | None = None) -> Event:
    """Decode one JSON payload into an event; see :func:`from_mapping`."""
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from exc
    return from_mapping(obj, kind)


def to_mapping(event: Event) -> dict[str, Any]:
    """The JSON object for ``event``, with its ``type`` field; unknown values are left out."""
    if isinstance(event, CatalogUpsert):
        out: dict[str, Any] = {"type": EventKind.CATALOG.value, "content_id": event.content_id,
                               "timestamp": event.timestamp}
        for field in ("creator_id", "duration_s", "genre", "title"):
            value = getattr(event, field)
            if value is not None:
                out[field] = value
        if event.tags:
            out["tags"] = list(event.tags)
        return out
    out = {"type": event.kind.value, "user_id": event.user_id, "content_id": event.content_id,
           "timestamp": event.timestamp}
    if event.kind is EventKind.WATCH:
        out["completion_pct"] = event.completion_pct
    return out


def key_of(event: Event) -> str:
    """The Kafka message key: user id for interactions, content id for catalog upserts."""
    return event.content_id if isinstance(event, CatalogUpsert) else event.user_id
