"""What one re-embedding tick of the updater costs, step by step.

On the bundled MovieLens graph and the shipped checkpoint (one compute thread, the
default), a tick with N dirty users re-embeds them and the trending content and builds
the users' seen lists. This times ``Updater.refresh`` whole, then each of its steps
alone on the same nodes: the seen lists (``GraphStore.seen_many`` plus id lookup), the
content vectors and the user vectors. Each figure is the median of ``--repeat`` ticks.

    python benchmarks/tick_bench.py                   # 20, 100 and 610 dirty users
    python benchmarks/tick_bench.py --users 610 --repeat 9
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from graph_store.schema import CONTENT, USER
from model.datasets import build_store, load_dataset
from model.embedder import Embedder
from streams.runtime import set_compute_threads
from streams.updater import Updater

CHECKPOINT = Path(__file__).resolve().parents[1] / "model" / "checkpoints" / "movielens.pt"


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[20, 100, 610], help="dirty users per tick")
    parser.add_argument("--trending", type=int, default=200, help="trending content re-embedded per tick")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="compute threads (FRESHREC_COMPUTE_THREADS)")
    args = parser.parse_args()

    set_compute_threads(args.threads, model=True)
    store = build_store(load_dataset("movielens"))
    embedder = Embedder.load(CHECKPOINT)
    updater = Updater(store, embedder, {}, trending_k=args.trending)
    updater.refresh()  # the first tick takes what building the store made dirty
    trending, _ = store.trending(args.trending)
    rng = np.random.default_rng(0)
    print(f"MovieLens graph: {store.num_nodes(USER):,} users, {store.num_nodes(CONTENT):,} content, "
          f"{store.num_edges():,} edges; model {embedder.version}; {args.threads} compute thread(s); "
          f"{len(trending)} trending content per tick; median of {args.repeat}")
    print(f"{'dirty users':>11}  {'refresh()':>10}  {'seen lists':>10}  {'content':>8}  {'users':>8}  per user")
    for n in args.users:
        users = np.sort(rng.choice(store.num_nodes(USER), min(n, store.num_nodes(USER)), replace=False))

        def tick() -> None:
            updater._pending[USER].update(users.tolist())  # as if each had a new event
            updater._published_at = None
            updater.refresh()

        whole = median_ms(tick, args.repeat)
        seen = median_ms(lambda: updater._seen(users), args.repeat)
        content = median_ms(lambda: embedder.embed(store, CONTENT, trending), args.repeat)
        user = median_ms(lambda: embedder.embed(store, USER, users), args.repeat)
        print(f"{len(users):>11}  {whole:>8.1f}ms  {seen:>8.1f}ms  {content:>6.1f}ms  {user:>6.1f}ms  "
              f"{1000 * whole / len(users):.0f} us")


if __name__ == "__main__":
    main()
