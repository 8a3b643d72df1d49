"""HTTP latency while the model re-embeds in the same process, by torch thread count.

A worker that serves in-process (``freshrec run``) answers HTTP on its event loop while a
re-embedding tick runs the model in another thread. On a small machine torch's intra-op
threads compete with the event loop for the cores. This measures, side by side in one
process on the bundled MovieLens graph and the shipped checkpoint, for each thread count
asked for (torch and FAISS share one OpenMP pool, so it sets both): HTTP lookups with no
tick running, then with ticks running back to back; it prints HTTP percentiles and the
tick time.

    python benchmarks/contention_bench.py                # threads 2 and 1
    python benchmarks/contention_bench.py --threads 4 2 1
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from pathlib import Path

import numpy as np
import torch
from serving_bench import bench_http  # the sibling benchmark (this folder is on sys.path when run as a script)

from graph_store.schema import CONTENT, USER
from model.datasets import build_store, load_dataset
from model.embedder import Embedder
from serving.recommender import Recommender
from serving.vectors import VectorRecord

CHECKPOINT = Path(__file__).resolve().parents[1] / "model" / "checkpoints" / "movielens.pt"


def ticks(embedder: Embedder, store: object, users: np.ndarray, content: np.ndarray, stop: threading.Event,
          seconds: list[float]) -> None:
    """Re-embed ``users`` and ``content`` back to back until ``stop``, as a busy worker would."""
    while not stop.is_set():
        started = time.perf_counter()
        embedder.embed(store, USER, users)
        embedder.embed(store, CONTENT, content)
        seconds.append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1], help="torch thread counts to compare")
    parser.add_argument("--tick-users", type=int, default=610, help="users re-embedded per tick")
    parser.add_argument("--tick-content", type=int, default=200, help="content re-embedded per tick (trending)")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    store = build_store(load_dataset("movielens"))
    embedder = Embedder.load(CHECKPOINT)
    n_users, n_content = store.num_nodes(USER), store.num_nodes(CONTENT)
    rec = Recommender(embedder.dim)
    content_vecs = embedder.embed(store, CONTENT, np.arange(n_content))
    user_vecs = embedder.embed(store, USER, np.arange(n_users))
    rec.apply(VectorRecord("content", f"c{i}", v, embedder.version, 0, 0) for i, v in enumerate(content_vecs))
    rec.apply(VectorRecord("user", f"u{i}", v, embedder.version, 0, 0) for i, v in enumerate(user_vecs))
    tick_users = np.arange(min(args.tick_users, n_users))
    tick_content = np.arange(min(args.tick_content, n_content))
    print(f"MovieLens graph: {n_users:,} users, {n_content:,} content, {store.num_edges():,} edges; "
          f"model {embedder.version}, dim {embedder.dim}; a tick embeds {len(tick_users)} users + "
          f"{len(tick_content)} content")

    default_threads = torch.get_num_threads()
    for threads in args.threads:
        torch.set_num_threads(threads)  # torch and FAISS share one OpenMP pool: this sets both
        print(f"{threads} thread(s), no tick running:")
        asyncio.run(bench_http(rec, n_users, 10, args.requests, args.concurrency, 0))
        stop, seconds = threading.Event(), []
        worker = threading.Thread(target=ticks, args=(embedder, store, tick_users, tick_content, stop, seconds))
        worker.start()
        time.sleep(0.5)  # the first tick is under way
        print(f"{threads} thread(s), ticks running back to back:")
        asyncio.run(bench_http(rec, n_users, 10, args.requests, args.concurrency, 0))
        stop.set()
        worker.join()
        print(f"  tick p50 {np.median(seconds) * 1000:.0f} ms over {len(seconds)} ticks")
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
