"""Client-library log lines at a readable rate while the broker is away.

During a broker outage the Kafka clients retry, at times in a tight loop, and log each
failed attempt. One run of ``tests/integration/test_broker_restart.py`` wrote about 49,000
ERROR lines in an outage of a few seconds; others wrote a few hundred. :class:`RepeatLimit` passes the first
line of each kind (logger and message template), then at most one per ``interval_s``,
which says how many like it were left out. Nothing else about the records changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

#: Loggers (with their children) whose repeats are limited.
CLIENT_LOGGERS = ("aiokafka", "kafka")


class RepeatLimit(logging.Filter):
    """At most one record per (logger, message template) every ``interval_s`` seconds."""

    def __init__(self, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.clock = clock
        self._kinds: dict[tuple[str, str], tuple[float, int]] = {}  # -> (last passed at, left out since)
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            last = self._kinds.get(key)
            if last is not None and now - last[0] < self.interval_s:
                self._kinds[key] = (last[0], last[1] + 1)
                return False
            self._kinds[key] = (now, 0)
        if last is not None and last[1]:
            record.msg = f"{record.msg} [{last[1]} more like this in the last {now - last[0]:.0f} s]"
        return True


def limit_repeats(names: Iterable[str] = CLIENT_LOGGERS, interval_s: float = 10.0) -> RepeatLimit:
    """Put one :class:`RepeatLimit` on ``names`` and every child logger created so far
    (a filter on a parent does not see its children's records). Returns the filter."""
    limit = RepeatLimit(interval_s)
    prefixes = tuple(names)
    children = [n for n in logging.root.manager.loggerDict if n.startswith(tuple(p + "." for p in prefixes))]
    for name in {*prefixes, *children}:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatLimit) for f in logger.filters):
            logger.addFilter(limit)
    return limit
