"""Dead letters: a rejected message, kept whole, with why and where it came from.

The value is JSON: the reason, the source topic/partition/offset, and the original key
and value (as text when they are UTF-8, else base64), so nothing is lost and a fixed
event can be re-produced from it.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    def encode(self) -> bytes:
        body: dict[str, object] = {
            "reason": self.reason,
            "source": {"topic": self.topic, "partition": self.partition, "offset": self.offset},
            "rejected_ms": int(time.time() * 1000),
        }
        for name, raw in (("key", self.key), ("value", self.value)):
            if raw is None:
                body[name] = None
                continue
            try:
                body[name] = raw.decode("utf-8")
            except UnicodeDecodeError:
                body[f"{name}_base64"] = base64.b64encode(raw).decode("ascii")
        return json.dumps(body, separators=(",", ":")).encode()

    def describe(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}: {self.reason}"


def decode(payload: bytes) -> dict[str, object]:
    """Parse a dead-letter value (for tools and tests)."""
    return json.loads(payload)
