"""``freshrec produce``: publish events with kafka-python, from a dataset replay or stdin.

Every event is validated before it is sent (the same decoder the worker uses), so a
typo is reported at once with its line number; ``validate=False`` sends lines as they
are, which is how the dead-letter path is exercised by hand.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, cast

from kafka import KafkaProducer
from kafka.errors import KafkaError
from tqdm import tqdm

from graph_store.events import EventKind, InvalidEvent, from_mapping, key_of, to_mapping
from streams.settings import Settings


@dataclass(slots=True)
class ProduceReport:
    sent: int = 0
    rejected: int = 0
    seconds: float = 0.0


def make_producer(bootstrap: str) -> KafkaProducer:
    try:
        return KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                             batch_size=256 * 1024, client_id="freshrec-produce")
    except KafkaError as exc:
        raise ConnectionError(f"cannot connect a producer to Kafka at {bootstrap}: {exc}") from exc


class Pacer:
    """Sleeps so that sends keep to ``rate`` per second (None: as fast as possible)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.start = time.monotonic()
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        if self.rate:
            ahead = self.count / self.rate - (time.monotonic() - self.start)
            if ahead > 0.002:
                time.sleep(ahead)


def publish(settings: Settings, events: Iterable[dict[str, Any]], *, rate: float | None = None,
            limit: int | None = None, validate: bool = True, progress: bool = False,
            errors: TextIO = sys.stderr) -> ProduceReport:
    """Send ``events`` (JSON objects with a ``type`` field) to their topics.

    Args:
        rate: events per second, None for as fast as the broker takes them.
        limit: stop after this many events.
        validate: reject (and report) invalid events instead of sending them.
    """
    report = ProduceReport()
    producer = make_producer(settings.bootstrap)
    pacer = Pacer(rate)
    start = time.monotonic()
    bar = tqdm(total=limit, unit="ev", disable=not progress, desc="replay", file=sys.stderr)
    try:
        for n, obj in enumerate(events, start=1):
            if limit is not None and report.sent >= limit:
                break
            try:
                if validate:
                    event = from_mapping(obj)
                    value = to_mapping(event)
                    topic, key = settings.topic(value["type"]), key_of(event)
                else:
                    # a missing or unknown type makes EventKind raise ValueError: the event is rejected
                    kind = EventKind(cast(str, obj.get("type"))) if isinstance(obj, dict) else None
                    if kind is None:
                        raise InvalidEvent("without validation an event still needs a known 'type' to pick its topic")
                    topic, value = settings.topic(kind.value), obj
                    key = str(obj.get("content_id" if kind is EventKind.CATALOG else "user_id", ""))
            except (InvalidEvent, ValueError) as exc:
                report.rejected += 1
                print(f"event {n}: {getattr(exc, 'reason', exc)}", file=errors)
                continue
            producer.send(topic, key=key.encode(), value=json.dumps(value, separators=(",", ":")).encode())
            report.sent += 1
            bar.update(1)
            pacer.tick()
        producer.flush(timeout=60)
    finally:
        bar.close()
        producer.close(timeout=10)
    report.seconds = time.monotonic() - start
    return report


def read_json_lines(stream: TextIO, errors: TextIO = sys.stderr) -> Iterator[dict[str, Any]]:
    """JSON objects from lines of ``stream``; a line that is not JSON is reported and skipped."""
    for n, line in enumerate(stream, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            yield json.loads(line)
        except ValueError as exc:
            print(f"line {n}: not valid JSON ({exc}); skipped", file=errors)
