"""The Faust wiring: worker lifecycle, the ingest service, the re-embed timer, HTTP.

This module only connects pieces. The hot path is :class:`streams.consumer.EventConsumer`
(an aiokafka batch loop run as a Faust service, see its docstring for why); the logic
lives in :class:`streams.updater.Updater` (graph + model), :mod:`serving` (index, HTTP)
and :mod:`streams.publisher`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping

import faust
import mode
from aiohttp import web
from aiokafka import AIOKafkaProducer

from serving import http
from streams.consumer import EventConsumer
from streams.publisher import Publisher
from streams.settings import Settings
from streams.updater import Updater

log = logging.getLogger(__name__)


def build_app(settings: Settings, updater: Updater, publisher: Publisher, web_app: web.Application, *,
              http_port: int, restored: Mapping[str, int] | None = None,
              on_ready: Callable[[], Awaitable[None]] | None = None,
              serving_ready: threading.Event | None = None) -> faust.App:
    """``serving_ready`` is set after a refresh that starts with every event that was
    waiting in the assigned partitions in the graph and leaves nothing queued, and cleared
    while a rebalance's new partitions are being caught up with (what /readyz reports)."""
    faust_dir = settings.state_dir / "faust"  # Faust's own table directory, kept with our state
    faust_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    app = faust.App(
        f"{settings.topic_prefix}-worker",
        broker=[f"kafka://{host}" for host in settings.bootstrap.split(",")],
        store="memory://",
        web_enabled=False,
        autodiscover=False,
        topic_partitions=settings.partitions,
        datadir=str(faust_dir),
    )
    embeddings_topic = settings.topic("embeddings")

    @app.service
    class Ingest(mode.Service):
        """Producer, event consumer and HTTP server, started and stopped with the worker."""

        producer: AIOKafkaProducer
        consumer: EventConsumer
        runner: web.AppRunner

        async def on_start(self) -> None:
            self.producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", linger_ms=5,
                                             client_id=settings.worker_id)
            await self.producer.start()
            publisher.send = lambda key, value: self.producer.send(embeddings_topic, key=key, value=value)
            self.consumer = EventConsumer(settings, updater, self.producer, on_fatal=app.crash)
            if restored:
                self.consumer.restore(restored)
            self.runner = await http.start(web_app, settings.http_host, http_port)
            log.info("HTTP on http://%s:%d", settings.http_host, http_port)
            if on_ready is not None:
                await on_ready()

        @mode.Service.task
        async def _consume(self) -> None:
            await self.consumer.run()

        @mode.Service.task
        async def _reembed(self) -> None:
            # Every interval, re-embed what changed; a slow tick delays the next one rather
            # than overlapping it. The model runs in a thread so HTTP stays responsive; the
            # graph store's readers are safe against the consumer's concurrent appends.
            loop = asyncio.get_running_loop()
            while not self.should_stop:
                started = loop.time()
                caught_up = self.consumer.caught_up.is_set()
                refresh = await loop.run_in_executor(None, updater.refresh)
                await publisher.publish(refresh)
                if serving_ready is not None:
                    if not self.consumer.caught_up.is_set():
                        serving_ready.clear()  # a rebalance handed over a backlog
                    elif caught_up and updater.idle():
                        serving_ready.set()
                await self.sleep(max(0.0, settings.reembed_interval_s - (loop.time() - started)))

        @mode.Service.task
        async def _snapshot(self) -> None:
            if not settings.snapshot_interval_s:
                return
            path = settings.snapshot_path()
            while not self.should_stop:
                await self.sleep(settings.snapshot_interval_s)
                started = asyncio.get_running_loop().time()
                offsets = await self.consumer.snapshot(path)
                log.info("graph snapshot at %s covers %d events (%.2fs)", path, sum(offsets.values()),
                         asyncio.get_running_loop().time() - started)

        async def on_stop(self) -> None:
            self.consumer.stop()
            await self.runner.cleanup()
            await self.producer.stop()

    return app
