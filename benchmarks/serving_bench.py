"""Serving latency: in-process ranking and HTTP lookups over loopback.

Builds a Recommender with ``--items`` content vectors and ``--users`` user vectors (random,
seeded; ranking cost does not depend on what the vectors mean), then measures
``Recommender.recommend`` directly and ``GET /recommendations/{user}`` through the real
aiohttp server with a bounded number of requests from ``--concurrency`` clients.

    python benchmarks/serving_bench.py                 # MovieLens scale: 9,742 items
    python benchmarks/serving_bench.py --items 200000  # a larger catalog
"""

from __future__ import annotations

import argparse
import asyncio
import time

import numpy as np
from aiohttp import ClientSession, TCPConnector

from serving.http import build_app, start
from serving.index import set_search_threads
from serving.recommender import Recommender
from serving.vectors import VectorRecord


def build(items: int, users: int, dim: int, seen: int, seed: int = 0) -> Recommender:
    rng = np.random.default_rng(seed)
    rec = Recommender(dim)
    content = rng.standard_normal((items, dim)).astype(np.float32)
    rec.apply(VectorRecord("content", f"c{i}", content[i], "bench", 0, 0) for i in range(items))
    for u in range(users):
        watched = tuple(f"c{i}" for i in rng.choice(items, size=min(seen, items), replace=False))
        rec.apply([VectorRecord("user", f"u{u}", rng.standard_normal(dim).astype(np.float32), "bench", 0, 0,
                                watched)])
    return rec


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1000.0
    return " ".join(f"p{q}={np.percentile(ms, q):.3f}ms" for q in (50, 95, 99)) + f" max={ms.max():.3f}ms"


def bench_inprocess(rec: Recommender, users: int, k: int, n: int) -> None:
    rng = np.random.default_rng(1)
    times = []
    for u in rng.integers(0, users, n):
        start = time.perf_counter()
        rec.recommend(f"u{u}", k)
        times.append(time.perf_counter() - start)
    print(f"recommend() in process   n={n:>6}  {percentiles(times)}")


async def bench_http(rec: Recommender, users: int, k: int, n: int, concurrency: int, port: int) -> None:
    runner = await start(build_app(rec), "127.0.0.1", port)
    port = runner.addresses[0][1]  # the bound port, when 0 asked for any
    rng = np.random.default_rng(2)
    targets = [f"http://127.0.0.1:{port}/recommendations/u{u}?k={k}" for u in rng.integers(0, users, n)]
    times: list[float] = []
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in targets:
        queue.put_nowait(url)

    async def client(session: ClientSession) -> None:
        while not queue.empty():
            url = queue.get_nowait()
            start_t = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                assert response.status == 200
            times.append(time.perf_counter() - start_t)

    started = time.perf_counter()
    async with ClientSession(connector=TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await runner.cleanup()
    print(f"HTTP GET, {concurrency} clients  n={n:>6}  {percentiles(times)}  {n / elapsed:,.0f} req/s "
          "(client and server share the event loop and the 2 cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=9742)
    parser.add_argument("--users", type=int, default=610)
    parser.add_argument("--dim", type=int, default=96, help="vector width (the shipped model: 64 learned + 32 factor slots)")
    parser.add_argument("--seen", type=int, default=165, help="seen items per user (MovieLens mean)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=0, help="loopback port (0: any free one)")
    parser.add_argument("--threads", type=int, default=1, help="FAISS search threads (FRESHREC_COMPUTE_THREADS)")
    args = parser.parse_args()
    set_search_threads(args.threads)
    print(f"{args.items:,} items, {args.users:,} users, dim {args.dim}, {args.seen} seen per user, k={args.k}")
    started = time.perf_counter()
    rec = build(args.items, args.users, args.dim, args.seen)
    print(f"index built in {time.perf_counter() - started:.2f}s")
    bench_inprocess(rec, args.users, args.k, args.requests)
    asyncio.run(bench_http(rec, args.users, args.k, args.requests, args.concurrency, args.port))


if __name__ == "__main__":
    main()
