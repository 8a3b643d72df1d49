"""Repeated client-library log lines are limited to one per interval, with a count."""

from __future__ import annotations

import logging

import pytest

from streams.logs import RepeatLimit, limit_repeats


def test_repeats_pass_once_per_interval_and_say_how_many_were_left_out(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    logger = logging.getLogger("freshrec-test.repeats")
    limit = RepeatLimit(10.0, clock=lambda: now[0])
    logger.addFilter(limit)
    try:
        with caplog.at_level(logging.ERROR, logger=logger.name):
            for node in range(100):
                logger.error("Unable connect to node with id %s", node)
                now[0] += 0.01
            logger.error("another kind of failure")  # a different template passes at once
            now[0] = 12.0
            logger.error("Unable connect to node with id %s", 7)
        assert [r.getMessage() for r in caplog.records] == [
            "Unable connect to node with id 0",
            "another kind of failure",
            "Unable connect to node with id 7 [99 more like this in the last 12 s]",
        ]
    finally:
        logger.removeFilter(limit)


def test_the_limit_reaches_existing_child_loggers() -> None:
    child = logging.getLogger("aiokafka.consumer.fetcher")
    limit = limit_repeats()
    try:
        assert limit in child.filters and limit in logging.getLogger("kafka").filters
        assert limit_repeats() is not None and sum(isinstance(f, RepeatLimit) for f in child.filters) == 1
    finally:
        for name in logging.root.manager.loggerDict:
            logging.getLogger(name).removeFilter(limit)
