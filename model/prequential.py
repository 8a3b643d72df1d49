"""Prequential replay: do fresh vectors recommend better than vectors frozen at a cut?

The model is trained once on MovieLens before the global cut and never again. The test
period is then replayed in time order. At each of a user's test timestamps T, the items
the user rates at T are to be found in the top of the catalog, leaving out everything
the user rated before T. Each arm ranks them with a different user vector:

- **frozen**: vectors computed once at the cut and never again (a user new after the cut
  keeps the blank-user vector);
- **refreshed hourly / daily**: each user's vector as of the last hour / day boundary at or
  before T, as an hourly micro-batch or a nightly job would serve it;
- **fresh**: each user's vector as of T. It sees the user's own events strictly before T;
  the rest of the graph and the content vectors are as of the start of T's day. That
  is what freshrec's updater publishes seconds after each event.

All arms share the model, the seen filter and the candidate set, so the difference is
the freshness of the user vectors (and, for frozen, of the content vectors). Trending
frozen at the cut and trending recomputed daily are printed beside them for scale.
Nothing is chosen on these numbers.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from tqdm.auto import tqdm

from graph_store.schema import CONTENT, USER
from model.datasets import WATCH, Dataset, build_store, load_dataset
from model.embedder import Embedder
from model.baselines import Trending, history_before
from model.evaluate import RESULTS_DIR, _Index, _ranking_metrics, _tuned_trending, movielens_split, users_as_of
from model.train import train

DAY_MS = 86_400_000
FROZEN, FRESH = "gnn, vectors frozen at the cut", "gnn, fresh vectors (as of each event)"
HOUR_MS = 3_600_000
#: GNN arms whose user vectors are refreshed on a schedule instead of at each event
SCHEDULED = {"gnn, user vectors refreshed hourly": HOUR_MS, "gnn, user vectors refreshed daily": DAY_MS}
SLICES = ("all points", "the user's first test timestamp", "after 1-9 of the user's test events",
          "after >= 10 of the user's test events")
PER_USER = "all points, each user weighted equally"


class Points:
    """The replay's prediction points: one per (test user, distinct test timestamp T) at
    which the user rates at least one item for the first time. Aligned arrays, in time order."""

    def __init__(self, ds: Dataset, index: _Index, cut: int, max_points: int | None = None) -> None:
        inter = ds.interactions
        watch = inter.kind == WATCH
        users, items, ts = index.u(inter.user[watch]), index.i(inter.content[watch]), inter.ts[watch]
        # each (user, item) pair at its first rating
        pair = users * len(index.items) + items
        order = np.lexsort((ts, pair))
        _, first = np.unique(pair[order], return_index=True)
        pu, pi, pt = users[order][first], items[order][first], ts[order][first]
        by_user = np.lexsort((pi, pt, pu))
        pu, pi, pt = pu[by_user], pi[by_user], pt[by_user]
        self._user_start = np.searchsorted(pu, np.arange(len(index.users) + 1))
        self._items, self._first_ts = pi, pt
        # a point per (user, time) after the cut with an item new at that time
        new = pt >= cut
        keys = np.unique(np.column_stack([pt[new], pu[new]]), axis=0)  # sorted by time, then user
        if max_points is not None:
            keys = keys[:max_points]
        self.time, self.user = keys[:, 0].astype(np.int64), keys[:, 1].astype(np.int64)
        self.day = self.time // DAY_MS
        # the user's watch events from the cut up to (not including) T
        after = ts >= cut
        test_key = np.sort(users[after] * (1 << 42) + (ts[after] - cut))
        self.events_since_cut = (np.searchsorted(test_key, self.user * (1 << 42) + (self.time - cut))
                                 - np.searchsorted(test_key, self.user * (1 << 42)))

    def __len__(self) -> int:
        return len(self.user)

    def excluded(self, r: int) -> np.ndarray:
        """Items point ``r``'s user rated before its time (left out of its ranking)."""
        lo, hi = self._user_start[self.user[r]], self._user_start[self.user[r] + 1]
        k = np.searchsorted(self._first_ts[lo:hi], self.time[r], "left")
        return self._items[lo:lo + k]

    def positives(self, r: int) -> np.ndarray:
        """Items point ``r``'s user rated for the first time at its time."""
        lo, hi = self._user_start[self.user[r]], self._user_start[self.user[r] + 1]
        a, b = np.searchsorted(self._first_ts[lo:hi], self.time[r], "left"), \
            np.searchsorted(self._first_ts[lo:hi], self.time[r], "right")
        return self._items[lo + a:lo + b]

    def slices(self) -> dict[str, np.ndarray]:
        n = self.events_since_cut
        return dict(zip(SLICES, (np.ones(len(n), bool), n == 0, (n >= 1) & (n <= 9), n >= 10)))


def _metrics(points: Points, scores: np.ndarray, rows: np.ndarray, keep: np.ndarray, negatives: np.ndarray
             ) -> dict[str, float]:
    """Mean metrics of points ``rows[keep]`` (``scores`` holds one row per entry of ``rows``)."""
    at = rows[keep]
    return _ranking_metrics(scores[keep], [points.excluded(r) for r in at], [points.positives(r) for r in at],
                            negatives[at])


def _add(sums: dict[str, dict[str, dict[str, float]]], name: str, sname: str, metrics: dict[str, float],
         weight: float) -> None:
    acc = sums.setdefault(name, {}).setdefault(sname, {})
    for metric, value in metrics.items():
        acc[metric] = acc.get(metric, 0.0) + value * weight


def prequential_movielens(*, epochs: int = 5, seed: int = 0, max_minutes: float = 12.0,
                          work_dir: Path | None = None, progress: bool = True, data_dir: Path | None = None,
                          max_points: int | None = None, **train_options: Any) -> dict[str, Any]:
    """The replay on the global split; ``write_results``' shape. ``max_points`` keeps the
    first points only (tests)."""
    started = time.monotonic()
    ds = load_dataset("movielens", data_dir)
    index = _Index(ds)
    in_train, cut, _ = movielens_split(ds, "global")
    train_ds = replace(ds, interactions=ds.interactions.take(in_train))
    work = Path(work_dir) if work_dir else RESULTS_DIR.parent.parent / "artifacts"
    ckpt = work / "movielens-global.pt"  # the global evaluation's model: same data, options and seed
    report = train(train_ds, ckpt, epochs=epochs, seed=seed, max_minutes=max_minutes, progress=progress,
                   **train_options)
    points = Points(ds, index, cut, max_points)
    emb = Embedder.load(ckpt)
    store = build_store(ds)  # the whole log; every vector below is taken before its own time
    ext_users = np.array(list(index.users), dtype=object)
    iid = store.lookup(CONTENT, np.array(list(index.items), dtype=object))
    sid = store.lookup(USER, ext_users[points.user])

    # frozen: one user vector per user at the cut, content at the cut
    users, first = np.unique(points.user, return_index=True)
    frozen_user = emb.embed(store, USER, sid[first], before=cut, seed=seed)
    frozen_content = emb.embed(store, CONTENT, iid, before=cut, seed=seed)
    frozen_row = np.searchsorted(users, points.user)
    fresh_user = users_as_of(emb, store, sid, points.time, DAY_MS, seed)
    # as of the last refresh at or before T (the boundary itself: the user's edges before it)
    scheduled_user = {name: users_as_of(emb, store, sid, points.time // period * period, DAY_MS, seed)
                      for name, period in SCHEDULED.items()}

    hist = index.history(train_ds, cut)
    trending = _tuned_trending(hist, int(np.quantile(hist.ts, 0.9)))
    watches = index.history(replace(ds, interactions=ds.interactions.take(ds.interactions.kind == WATCH)),
                            int(ds.interactions.ts.max()) + 1)

    def trending_at(t: int) -> np.ndarray:
        """Decayed watch counts before ``t`` at the tuned half-life."""
        at_t = Trending(trending.half_life_days)
        at_t.fit(history_before(watches, t))
        return cast(np.ndarray, at_t.item_score)

    frozen_trend = trending_at(cut)
    fresh_trend_name = f"trending ({trending.half_life_days:g}-day half-life), fresh daily"
    rng = np.random.default_rng(seed)
    touched: dict[int, set[int]] = {}
    for u, i in zip(index.u(ds.interactions.user).tolist(), index.i(ds.interactions.content).tolist()):
        touched.setdefault(u, set()).add(i)
    negatives_of = {u: rng.choice(np.setdiff1d(np.arange(len(index.items)), np.fromiter(touched[u], np.int64)),
                                  100, replace=False) for u in users.tolist()}
    negatives = np.stack([negatives_of[u] for u in points.user.tolist()])

    # metrics are means over points: sum them per day and slice, divide at the end
    sums: dict[str, dict[str, dict[str, float]]] = {}
    slices = points.slices()
    per_user = dict(zip(*np.unique(points.user, return_counts=True)))
    for d in tqdm(np.unique(points.day), disable=not progress, desc="replay movielens", unit="day"):
        rows = np.flatnonzero(points.day == d)
        content = emb.embed(store, CONTENT, iid, before=int(d) * DAY_MS, seed=seed)
        day_scores = {
            FROZEN: frozen_user[frozen_row[rows]] @ frozen_content.T,
            FRESH: fresh_user[rows] @ content.T,
            **{name: vectors[rows] @ content.T for name, vectors in scheduled_user.items()},
            "trending, frozen at the cut": np.broadcast_to(frozen_trend, (len(rows), len(iid))),
            fresh_trend_name: np.broadcast_to(trending_at(int(d) * DAY_MS), (len(rows), len(iid))),
        }
        for name, sc in day_scores.items():
            for sname, mask in slices.items():
                keep = np.flatnonzero(mask[rows])
                if len(keep):
                    _add(sums, name, sname, _metrics(points, sc, rows, keep, negatives), len(keep))
            # every user counts once: each point weighs 1 / (its user's points)
            for u in np.unique(points.user[rows]).tolist():
                keep = np.flatnonzero(points.user[rows] == u)
                _add(sums, name, PER_USER, _metrics(points, sc, rows, keep, negatives), len(keep) / per_user[u])
    counts: dict[str, float] = {s: int(m.sum()) for s, m in slices.items()}
    counts[PER_USER] = len(users)
    results = {name: {sname: {metric: total / counts[sname] for metric, total in by_slice[sname].items()}
                      for sname in (*SLICES, PER_USER) if sname in by_slice} for name, by_slice in sums.items()}
    return {
        "dataset": "movielens", "protocol": "prequential replay of the global split's test period",
        "cut_ms": cut, "test_points": {s: int(n) for s, n in counts.items()}, "users": len(users),
        "gnn_training": report, "results": results, "seconds": round(time.monotonic() - started, 1),
        "leaks": "nothing: every vector and trending score is taken strictly before the time it ranks for",
    }
