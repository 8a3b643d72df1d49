"""Process entry points: the worker, the standalone server, and ``run`` (everything at once)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from graph_store.events import EventKind
from graph_store.store import GraphStore
from serving import http
from serving.follow import EmbeddingsFollower
from serving.index import set_search_threads
from serving.recommender import Recommender
from streams.app import build_app
from streams.broker import ensure_broker
from streams.logs import limit_repeats
from streams.publisher import Publisher
from streams.settings import Settings
from streams.topics import ensure_topics, event_topic
from streams.updater import Updater

log = logging.getLogger(__name__)

#: `run` trains a model only when none exists; this bounds how long that takes.
TRAIN_MINUTES_IN_RUN = 15.0


def _load_embedder(settings: Settings):  # -> model.embedder.Embedder
    from model.embedder import Embedder

    path = settings.checkpoint_path()
    if not path.exists():
        raise FileNotFoundError(f"no model checkpoint at {path}; run `freshrec train --dataset {settings.dataset}` first")
    return Embedder.load(path)


def _prepare(settings: Settings) -> None:
    limit_repeats()  # the Kafka clients' retry errors, at a readable rate during an outage
    ensure_broker(settings)
    created = ensure_topics(settings)
    if created:
        log.info("created topics %s", ", ".join(created))


def open_store(settings: Settings) -> tuple[GraphStore, dict[str, int]]:
    """The worker's graph: its snapshot if there is one (and snapshots are on), else empty;
    either way with the retention and trending half-life of ``settings``. Returns the store
    and the offsets the snapshot covers."""
    retention_ms = None if settings.retention_days is None else round(settings.retention_days * 86_400_000)
    half_life_ms = round(settings.trending_half_life_s * 1000)
    snapshot = settings.snapshot_path()
    if not (settings.snapshot_interval_s and snapshot.exists()):
        return GraphStore(retention_ms=retention_ms, trending_half_life_ms=half_life_ms), {}
    store, restored = GraphStore.load(snapshot)
    log.info("restored the graph from %s: %d edges, %d events; reading the log after them",
             snapshot, store.num_edges(), sum(restored.values()))
    store.retention_ms = retention_ms
    if store.trending_half_life_ms != half_life_ms:
        log.info("trending half-life %.0f s -> %.0f s: rescoring the live edges",
                 store.trending_half_life_ms / 1000, half_life_ms / 1000)
        store.set_trending_half_life(half_life_ms)
    return store, restored


def set_compute_threads(threads: int, *, model: bool) -> None:
    """Threads of the FAISS search and, with ``model``, of torch. Both use one OpenMP pool,
    so one setting. Beside back-to-back re-embedding ticks on 2 cores, one thread kept HTTP
    p99 at 4.0-4.7 ms where two gave 6.2-7.5 ms, and the ticks were 2-3 times faster (83-97
    vs 202-235 ms; ``benchmarks/contention_bench.py``, two runs)."""
    if model:
        import torch

        torch.set_num_threads(threads)
    set_search_threads(threads)


def build_worker(settings: Settings, *, serve: bool,
                 on_ready: Callable[[], Awaitable[None]] | None = None) -> faust.App:
    set_compute_threads(settings.compute_threads, model=True)
    embedder = _load_embedder(settings)
    store, restored = open_store(settings)
    topic_kinds = {event_topic(settings, kind): kind for kind in EventKind}
    updater = Updater(store, embedder, topic_kinds, trending_k=settings.trending_k,
                      max_reembed=settings.max_reembed, fanouts=settings.fanouts, seen_limit=settings.seen_limit)
    if restored:
        updater.mark_all_dirty()
    recommender = Recommender(embedder.dim) if serve else None
    serving_ready = threading.Event()  # /readyz: the backlog at start is in the graph and its vectors out
    web_app = http.build_app(recommender, ready=serving_ready.is_set)
    port = settings.http_port if serve else settings.worker_metrics_port
    app = build_app(settings, updater, Publisher(recommender), web_app, on_ready=on_ready, http_port=port,
                    restored=restored, serving_ready=serving_ready)
    return app


def _run_faust(app: faust.App) -> int:
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def run_worker(settings: Settings, *, serve: bool) -> int:
    app = build_worker(settings, serve=serve)  # first: a missing model fails before Kafka starts
    _prepare(settings)
    return _run_faust(app)


def run_serve(settings: Settings) -> int:
    """A serving replica: bootstrap from the compacted embeddings topic, follow it, answer HTTP.

    It needs no model: vectors (and their dimension) come from the topic.
    """
    _prepare(settings)
    set_compute_threads(settings.compute_threads, model=False)
    recommender = Recommender()
    follower = EmbeddingsFollower(recommender, settings.bootstrap, settings.topic("embeddings"))
    follower.start()

    async def main() -> None:
        runner = await http.start(http.build_app(recommender, ready=follower.caught_up.is_set), settings.http_host, settings.http_port)
        print(f"serving on http://{settings.http_host}:{settings.http_port}/recommendations/<user_id>", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        follower.stop()
        await runner.cleanup()

    asyncio.run(main())
    return 0


def run_all(settings: Settings, *, rate: float | None, limit: int | None, epochs: int | None) -> int:
    """Broker, topics, a model (trained if missing), worker + server in one process, and a replay."""
    from model.datasets import iter_events, load_dataset
    from streams.producer import publish

    _prepare(settings)
    path = settings.checkpoint_path()
    if not path.exists():
        from model.train import train

        path = settings.trained_checkpoint()
        print(f"no checkpoint yet: training one on {settings.dataset} into {path} "
              f"(at most {TRAIN_MINUTES_IN_RUN:g} minutes)", flush=True)
        overrides: dict[str, Any] = {"epochs": epochs} if epochs is not None else {}
        train(settings.dataset, path, max_minutes=TRAIN_MINUTES_IN_RUN, **overrides)
    dataset = load_dataset(settings.dataset)
    sample_user = str(dataset.interactions.user[0])
    base = f"http://{settings.http_host}:{settings.http_port}"

    def replay() -> None:
        report = publish(settings, iter_events(dataset), rate=rate, limit=limit, progress=False)
        print(f"replay finished: {report.sent} events in {report.seconds:.0f}s", flush=True)

    async def on_ready() -> None:
        print(
            "\nfreshrec is up.\n"
            f"  recommendations: {base}/recommendations/{sample_user}?k=10\n"
            f"  metrics:         {base}/metrics\n"
            f"  health:          {base}/healthz\n"
            f"replaying {settings.dataset} into {settings.bootstrap} at {rate or 'full'} events/s; Ctrl-C stops.\n",
            flush=True,
        )
        threading.Thread(target=replay, name="replay", daemon=True).start()

    app = build_worker(settings, serve=True, on_ready=on_ready)
    code = _run_faust(app)
    print("stopped; the broker keeps running (`freshrec kafka stop` or `make stop` ends it)", file=sys.stderr)
    return code
