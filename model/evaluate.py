"""Offline evaluation of the GNN against the baselines; writes docs/results/<name>.{md,json}.

MovieLens (top-k over the whole catalog minus the user's training items):
- ``global``: one time cut at the 80 % quantile of interaction times. Leakage-free: the
  model and baselines see nothing at or after the cut.
- ``per_user``: each user's last 20 % of ratings (by time). Leaks global information to
  the baselines: other users' later interactions (future popularity, items not yet
  released at the user's test time) are in training. The GNN is scored at each user's own
  test start (``user_time``), on the graph before it (content in 30-day buckets), so it
  sees none of that.
Metrics: Recall@10/20, NDCG@10/20, MAP@10 and AUROC of each test positive against 100
items the user never touched (one sample shared by every model). Users with <= 1
training event and test positives on items without training interactions are reported
as cold-start slices; on the global split, users without a training event are also
scored right after their first test event (a user with one event).

KuaiRand: exposures after the 80 % time cut, AUROC for long_view and is_click, trained on
exposures and edges before it; cold slices = videos with no exposure before the cut,
users with <= 1 event before it. Hyper-parameters are never chosen on the test period.
"""

from __future__ import annotations

import json
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import roc_auc_score

from graph_store.schema import CONTENT, USER
from model.baselines import (
    ALS, History, LightGBMPairs, PairStats, Popularity, TagSimilarity, Trending, history_before,
)
from model.datasets import WATCH, Dataset, build_store, load_dataset
from model.embedder import Embedder
from model.train import exposure_history, train

RESULTS_DIR = Path(__file__).resolve().parents[1] / "docs" / "results"
KS = (10, 20)


class _Index:
    """Dense indices of a dataset's users and catalog items (shared by every model)."""

    def __init__(self, ds: Dataset) -> None:
        self.items = {c: i for i, c in enumerate(ds.catalog.content.tolist())}
        users = sorted(set(ds.interactions.user.tolist()) | set(ds.user_ids.tolist()))
        self.users = {u: i for i, u in enumerate(users)}
        tags = sorted({t for ts in ds.catalog.tags for t in ts})
        tix = {t: j for j, t in enumerate(tags)}
        rows = [i for i, ts in enumerate(ds.catalog.tags) for _ in ts]
        cols = [tix[t] for ts in ds.catalog.tags for t in ts]
        self.item_tags = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(self.items), max(len(tags), 1)))
        creators = sorted({c for c in ds.catalog.creator if c is not None})
        cix = {c: j for j, c in enumerate(creators)}
        self.item_creator = np.array([cix[c] if c is not None else -1 for c in ds.catalog.creator], np.int64)

    def u(self, ids: np.ndarray) -> np.ndarray:
        return np.array([self.users[x] for x in ids.tolist()], np.int64)

    def i(self, ids: np.ndarray) -> np.ndarray:
        return np.array([self.items[x] for x in ids.tolist()], np.int64)

    def history(self, ds: Dataset, now: int, weight: np.ndarray | None = None) -> History:
        inter = ds.interactions
        w = np.ones(len(inter), np.float32) if weight is None else weight
        return History(self.u(inter.user), self.i(inter.content), inter.ts, w, len(self.users), len(self.items),
                       self.item_tags, self.item_creator, now)


def _gnn_scores(ckpt: Path, train_ds: Dataset, index: _Index, until: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """User [n_users, d] and item [n_items, d] vectors in the evaluation's dense order.

    With an exposure log, the timed columns come from its part before ``until``."""
    store = build_store(train_ds)
    emb = Embedder.load(ckpt)
    emb.encoders.source = exposure_history(train_ds, until)
    uid = store.index(USER, np.array(list(index.users), dtype=object))
    iid = store.lookup(CONTENT, np.array(list(index.items), dtype=object))
    return emb.embed(store, USER, uid), emb.embed(store, CONTENT, iid)


def _gnn_scores_at(ckpt: Path, train_ds: Dataset, index: _Index, users: np.ndarray, times: np.ndarray,
                   bucket_days: float = 30.0) -> np.ndarray:
    """Scores [len(users), n_items], each user taken at its own time ``times[r]``.

    Users are grouped in ``bucket_days`` buckets; a bucket's content vectors are computed
    on the graph before the bucket's start and each user's own edges before its time, so
    no vector sees anything at or after the user's time."""
    store = build_store(train_ds)
    emb = Embedder.load(ckpt)
    ext_users = np.array(list(index.users), dtype=object)
    uid = store.index(USER, ext_users[users])
    iid = store.lookup(CONTENT, np.array(list(index.items), dtype=object))
    width = int(bucket_days * 86_400_000)
    user = users_as_of(emb, store, uid, times, width)
    bucket = times // width
    out = np.empty((len(users), len(iid)), np.float32)
    for b in np.unique(bucket):
        rows = np.flatnonzero(bucket == b)
        out[rows] = user[rows] @ emb.embed(store, CONTENT, iid, before=int(b) * width).T
    return out


def users_as_of(emb: Embedder, store: Any, users: np.ndarray, times: np.ndarray, bucket_ms: int, seed: int = 0
                ) -> np.ndarray:
    """Each store user ``users[r]`` as of ``times[r]``: its own edges before that time, the
    rest of its neighbourhood before the start of its ``bucket_ms`` bucket. [n, dim]."""
    out = np.empty((len(users), emb.dim), np.float32)
    bucket = times // bucket_ms
    for b in np.unique(bucket):
        rows = np.flatnonzero(bucket == b)
        out[rows] = emb.embed(store, USER, users[rows], before=int(b) * bucket_ms, times=times[rows], seed=seed)
    return out


class _GNNAtTimes:
    """Precomputed GNN scores of some users (each at its own time)."""

    name = "gnn (hetero-sage)"

    def __init__(self, scores: np.ndarray, users: np.ndarray) -> None:
        self.scores, self.row = scores, {u: r for r, u in enumerate(users.tolist())}

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        return self.scores[[self.row[u] for u in users.tolist()]]


class _GNN:
    name = "gnn (hetero-sage)"

    def __init__(self, u: np.ndarray, v: np.ndarray) -> None:
        self.u, self.v = u, v

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (self.u[users] * self.v[items]).sum(1)

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        return self.u[users] @ self.v.T


def _ranking_metrics(scores: np.ndarray, train_items: list[np.ndarray], positives: list[np.ndarray],
                     negatives: np.ndarray) -> dict[str, float]:
    rec: dict[int, list[float]] = {k: [] for k in KS}
    ndcg: dict[int, list[float]] = {k: [] for k in KS}
    ap10, auc = [], []
    disc = 1 / np.log2(np.arange(2, 2 + max(KS)))
    for r in range(len(positives)):
        s = scores[r].astype(np.float64).copy()
        pos = positives[r]
        a = s[pos][:, None]
        b = s[negatives[r]][None, :]
        auc.append(float(((a > b) + 0.5 * (a == b)).mean()))
        s[train_items[r]] = -np.inf
        top = np.argpartition(-s, max(KS))[: max(KS)]
        top = top[np.argsort(-s[top], kind="stable")]
        hit = np.isin(top, pos)
        for k in KS:
            rec[k].append(hit[:k].sum() / len(pos))
            ndcg[k].append((hit[:k] * disc[:k]).sum() / disc[: min(len(pos), k)].sum())
        prec = np.cumsum(hit[:10]) / np.arange(1, 11)
        ap10.append(float((prec * hit[:10]).sum() / min(len(pos), 10)))
    out = {f"Recall@{k}": float(np.mean(rec[k])) for k in KS}
    out.update({f"NDCG@{k}": float(np.mean(ndcg[k])) for k in KS})
    out["MAP@10"] = float(np.mean(ap10))
    out["AUROC"] = float(np.mean(auc))
    return out


def evaluate_movielens(protocol: Literal["global", "per_user"] = "global", *, epochs: int = 5, seed: int = 0,
                       max_minutes: float = 12.0, work_dir: Path | None = None, progress: bool = True,
                       data_dir: Path | None = None, dataset: Dataset | None = None, user_time: bool = True,
                       **train_options: Any) -> dict[str, Any]:
    """Run one protocol. ``dataset`` replaces the bundled one: model selection passes the
    interactions before the test cut, so the protocol's own cut falls inside training time.
    ``train_options`` are :class:`~model.train.TrainConfig` fields for the GNN."""
    ds = dataset if dataset is not None else load_dataset("movielens", data_dir)
    inter = ds.interactions
    index = _Index(ds)
    in_train, now, starts = movielens_split(ds, protocol)
    train_ds = replace(ds, interactions=inter.take(in_train))
    test = inter.take(~in_train & (inter.kind == WATCH))

    hist = index.history(train_ds, now)
    train_items: dict[int, set[int]] = {}
    for u, i in zip(hist.user.tolist(), hist.item.tolist()):
        train_items.setdefault(u, set()).add(i)
    all_items: dict[int, set[int]] = {}
    for u, i in zip(index.u(inter.user).tolist(), index.i(inter.content).tolist()):
        all_items.setdefault(u, set()).add(i)
    pos: dict[int, set[int]] = {}
    for u, i in zip(index.u(test.user).tolist(), index.i(test.content).tolist()):
        if i not in train_items.get(u, set()):
            pos.setdefault(u, set()).add(i)
    item_train_count = np.bincount(hist.item, minlength=len(index.items))
    user_train_count = np.bincount(hist.user, minlength=len(index.users))

    rng = np.random.default_rng(seed)
    test_users = np.array(sorted(pos), np.int64)
    negatives = np.zeros((len(test_users), 100), np.int64)
    for r, u in enumerate(test_users.tolist()):
        allowed = np.setdiff1d(np.arange(len(index.items)), np.fromiter(all_items[u], np.int64))
        negatives[r] = rng.choice(allowed, 100, replace=False)

    # --- models -----------------------------------------------------------------------
    started = time.monotonic()
    work = Path(work_dir) if work_dir else RESULTS_DIR.parent.parent / "artifacts"
    ckpt = work / f"movielens-{protocol}.pt"
    report = train(train_ds, ckpt, epochs=epochs, seed=seed, max_minutes=max_minutes, progress=progress,
                   **train_options)
    gnn: Any
    if protocol == "per_user" and user_time:
        times = np.array([starts.get(u, now) for u in index.users], np.int64)
        gnn = _GNNAtTimes(_gnn_scores_at(ckpt, train_ds, index, test_users, times[test_users]), test_users)
    else:
        gnn = _GNN(*_gnn_scores(ckpt, train_ds, index))
    val_cut = int(np.quantile(hist.ts, 0.9))  # validation carved from training time only
    fitted: list[Any] = [Popularity(), TagSimilarity(), ALS(seed=seed), LightGBMPairs(seed=seed)]
    for m in fitted:
        m.fit(hist)
    models: list[Any] = [gnn, _tuned_trending(hist, val_cut), *fitted]

    slices = {
        "warm users (>= 2 training events)": [u for u in test_users.tolist() if user_train_count[u] >= 2],
        "cold users (<= 1 training event)": [u for u in test_users.tolist() if user_train_count[u] <= 1],
    }
    rows: dict[str, dict[str, dict[str, float]]] = {}
    row_of = {u: r for r, u in enumerate(test_users.tolist())}
    for m in models:
        rows[m.name] = {}
        for sname, users in slices.items():
            if not users:
                continue
            ua = np.array(users, np.int64)
            sc = m.score_matrix(ua)
            rows[m.name][sname] = _ranking_metrics(
                sc, [np.fromiter(train_items.get(u, set()), np.int64) for u in users],
                [np.fromiter(pos[u], np.int64) for u in users], negatives[[row_of[u] for u in users]])
        # cold content: positives on items without training interactions
        cold_users = [u for u in test_users.tolist() if any(item_train_count[i] == 0 for i in pos[u])]
        if cold_users:
            ua = np.array(cold_users, np.int64)
            sc = m.score_matrix(ua)
            rows[m.name]["cold content (no training interaction)"] = _ranking_metrics(
                sc, [np.fromiter(train_items.get(u, set()), np.int64) for u in cold_users],
                [np.array([i for i in pos[u] if item_train_count[i] == 0], np.int64) for u in cold_users],
                negatives[[row_of[u] for u in cold_users]])
    counts = {s: len(u) for s, u in slices.items()}
    counts["cold content (no training interaction)"] = len(cold_users)
    if protocol == "global":
        newcomers = test_users[user_train_count[test_users] == 0]
        newcomer_rows, n_newcomers = _newcomer_slice(
            ckpt, train_ds, test, index, newcomers, pos, negatives, row_of, now, models[1:], seed)
        for name, metrics in newcomer_rows.items():
            rows[name][NEWCOMERS] = metrics
        counts[NEWCOMERS] = n_newcomers
    return {
        "dataset": "movielens", "protocol": protocol, "cut_ms": now, "test_users": counts,
        "gnn_training": report, "results": rows, "seconds": round(time.monotonic() - started, 1),
        "leaks": ("nothing: one global time cut (in the new-user slice the baselines also see every new "
                  "user's first event, a little of other users' future)" if protocol == "global" else
                  "baselines see other users' interactions after a user's test start (future popularity); "
                  "the GNN scores each user at its own test start on the graph before it" if user_time else
                  "other users' interactions after a user's test start are in training (future popularity)"),
    }


NEWCOMERS = "new users after their first event"


def first_test_events(test: Any, index: _Index, users: np.ndarray, positives: dict[int, set[int]]) -> np.ndarray:
    """Rows of ``test`` (time-ordered watches) holding each of ``users``' first watch, for
    those with at least one more positive after it. [n] int64 row numbers."""
    rows = []
    seen: set[int] = set()
    wanted = set(users.tolist())
    for r, u in enumerate(index.u(test.user).tolist()):
        if u in wanted and u not in seen:
            seen.add(u)
            if len(positives[u] - {index.items[test.content[r]]}) >= 1:
                rows.append(r)
    return np.array(rows, np.int64)


def _newcomer_slice(ckpt: Path, train_ds: Dataset, test: Any, index: _Index, newcomers: np.ndarray,
                    pos: dict[int, set[int]], negatives: np.ndarray, row_of: dict[int, int], cut: int,
                    baselines: list[Any], seed: int) -> tuple[dict[str, dict[str, float]], int]:
    """``newcomers`` (test users without a training event), each scored right after its
    first test event; ``negatives[row_of[u]]`` are user u's AUROC negatives.

    The GNN sees the graph before the cut plus only the user's own first event (the user
    as of just after it, every other hop before the cut). The baselines are refitted on
    the training history plus *every* newcomer's first event, so they see a little of
    other users' future (in their favour). Returns rows per model and the user count."""
    rows = first_test_events(test, index, newcomers, pos)
    if not len(rows):
        return {}, 0
    first = test.take(rows)
    users, items = index.u(first.user), index.i(first.content)
    negs = negatives[[row_of[u] for u in users.tolist()]]
    seen = [np.array([i], np.int64) for i in items.tolist()]
    positives = [np.fromiter(pos[u] - {i}, np.int64) for u, i in zip(users.tolist(), items.tolist())]

    with_first = replace(train_ds, interactions=train_ds.interactions.concat(first))
    store = build_store(with_first)
    emb = Embedder.load(ckpt)
    iid = store.lookup(CONTENT, np.array(list(index.items), dtype=object))
    content = emb.embed(store, CONTENT, iid, before=cut, seed=seed)
    user = emb.embed(store, USER, store.lookup(USER, first.user), before=cut, times=first.ts + 1, seed=seed)
    out = {_GNN.name: _ranking_metrics(user @ content.T, seen, positives, negs)}

    plus = index.history(with_first, int(first.ts.max()) + 1)
    for model in baselines:
        model.fit(plus)
        out[model.name] = _ranking_metrics(model.score_matrix(users), seen, positives, negs)
    return out, len(rows)


def movielens_split(ds: Dataset, protocol: Literal["global", "per_user"]) -> tuple[np.ndarray, int, dict[str, int]]:
    """The training mask of ``ds.interactions`` under ``protocol``, the reference time, and
    each user's test start (per_user; empty for global)."""
    inter = ds.interactions
    if protocol == "global":
        cut = int(np.quantile(inter.ts[inter.kind == WATCH], 0.8))
        return inter.ts < cut, cut, {}
    # each user's last 20 % of ratings (and anything of theirs from then on) is test
    w = inter.kind == WATCH
    starts: dict[str, int] = {}
    for u in np.unique(inter.user[w]):
        t = np.sort(inter.ts[w & (inter.user == u)])
        starts[u] = int(t[int(np.floor(len(t) * 0.8))]) if len(t) >= 5 else int(t[-1]) + 1
    user_start = np.array([starts.get(u, np.iinfo(np.int64).max) for u in inter.user.tolist()])
    in_train = inter.ts < user_start
    return in_train, int(inter.ts[in_train].max()) + 1, starts


def validation_dataset(ds: Dataset, protocol: Literal["global", "per_user"]) -> Dataset:
    """``ds`` cut to the protocol's training part: running the protocol on it puts its own
    test period inside training time. Model selection uses this, never the test period."""
    in_train, _, _ = movielens_split(ds, protocol)
    return replace(ds, interactions=ds.interactions.take(in_train))


def _tuned_trending(hist: History, val_cut: int) -> Trending:
    """Pick the half-life on a validation window carved from training time."""
    sub = history_before(hist, val_cut)
    val_items = hist.item[hist.ts >= val_cut]
    best, best_hl = -1.0, 30.0
    for hl in (3.0, 14.0, 30.0, 90.0, 365.0):
        t = Trending(hl)
        t.fit(sub)
        top = np.argsort(-t.item_score)[:20]
        hit = np.isin(val_items, top).mean()
        if hit > best:
            best, best_hl = hit, hl
    t = Trending(best_hl)
    t.fit(hist)
    t.name = f"trending (half-life {best_hl:g} d)"
    return t


def evaluate_kuairand(*, epochs: int = 6, seed: int = 0, max_minutes: float = 10.0, work_dir: Path | None = None,
                      progress: bool = True, data_dir: Path | None = None, validation: bool = False,
                      **train_options: Any) -> dict[str, Any]:
    """``validation`` runs the same protocol on the exposures and interactions before the
    test cut (its own cut then falls inside training time): for model selection."""
    ds = load_dataset("kuairand", data_dir)
    if validation:
        ds = kuairand_before_cut(ds)
    k = KuaiRandSplit(ds)
    exp, index, cut, train_ds, tr, te, eu, ei = k.exp, k.index, k.cut, k.train_ds, k.train, k.test, k.eu, k.ei
    user_feats = k.user_features
    work = Path(work_dir) if work_dir else RESULTS_DIR.parent.parent / "artifacts"
    started = time.monotonic()
    seen_items = np.zeros(len(index.items), bool)
    seen_items[ei[tr]] = True
    user_events = np.bincount(index.u(train_ds.interactions.user), minlength=len(index.users))
    slices = {
        "all test exposures": te,
        "cold content (no exposure before the cut)": te & ~seen_items[ei],
        "cold users (<= 1 event before the cut)": te & (user_events[eu] <= 1),
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    reports = {}
    for label in ("long_view", "is_click"):
        y = getattr(exp, label).astype(np.float32)
        reports[label], gnn = k.train_gnn(label, work, epochs=epochs, seed=seed, max_minutes=max_minutes,
                                          progress=progress, **train_options)
        # baselines learn from the label on exposures before the cut
        hist = k.history(y)
        pos_hist = History(eu[tr & (y > 0)], ei[tr & (y > 0)], exp.ts[tr & (y > 0)], np.ones(int((tr & (y > 0)).sum()),
                           np.float32), len(index.users), len(index.items), index.item_tags, index.item_creator, cut)
        pop, trend, tags, als = Popularity(), Trending(3.0), TagSimilarity(), ALS(factors=32, seed=seed)
        for m in (pop, trend, tags, als):
            m.fit(pos_hist)
        lgbm = LightGBMPairs(seed=seed, user_features=user_feats)
        t1 = int(np.quantile(exp.ts[tr], 0.6))  # statistics before t1, labelled rows in [t1, cut)
        rows = tr & (exp.ts >= t1)
        lgbm.fit_rows(PairStats(history_before(hist, t1)), eu[rows], ei[rows], y[rows], _duration(exp, rows))
        lgbm.stats = PairStats(hist)
        models = {gnn.name: gnn.score_pairs, "popularity": pop.score_pairs, "trending (half-life 3 d)":
                  trend.score_pairs, "tag-similarity": tags.score_pairs, "als": als.score_pairs,
                  "lightgbm": lambda u, i: cast(np.ndarray, lgbm.model.predict_proba(  # dense in, ndarray out
                      np.column_stack([lgbm._x(lgbm.stats, u, i), _duration(exp, te)])))[:, 1]}
        for name, fn in models.items():
            s_all = fn(eu[te], ei[te])
            full = np.full(len(exp), np.nan)
            full[te] = s_all
            for sname, mask in slices.items():
                yy, ss = y[mask], full[mask]
                auc = float(roc_auc_score(yy, ss)) if 0 < yy.sum() < len(yy) else float("nan")
                results.setdefault(name, {}).setdefault(sname, {})[f"AUROC {label}"] = auc
    return {
        "dataset": "kuairand", "cut_ms": cut, "test_exposures": {s: int(m.sum()) for s, m in slices.items()},
        "gnn_training": reports, "results": results, "seconds": round(time.monotonic() - started, 1),
    }


class KuaiRandSplit:
    """The KuaiRand protocol's parts: exposures before / after the 80 % time cut, dense
    indices, the interactions before the cut and the user feature table."""

    def __init__(self, ds: Dataset) -> None:
        assert ds.exposures is not None
        self.ds, self.exp, self.index = ds, ds.exposures, _Index(ds)
        self.cut = kuairand_cut(self.exp)
        self.train_ds = replace(ds, interactions=ds.interactions.take(ds.interactions.ts < self.cut))
        self.train = self.exp.ts < self.cut
        self.test = ~self.train
        self.eu, self.ei = self.index.u(self.exp.user), self.index.i(self.exp.content)
        feats = np.full((len(self.index.users), len(ds.user_features)), np.nan, np.float32)
        feats[self.index.u(ds.user_ids)] = np.column_stack(list(ds.user_features.values()))
        self.user_features = feats

    def train_gnn(self, label: str, work: Path, **options: Any) -> tuple[dict[str, Any], _GNN]:
        """Train the GNN on ``label`` (exposures and edges before the cut) into
        ``work/kuairand-<label>.pt``; returns its report and its vectors at the cut."""
        ckpt = work / f"kuairand-{label}.pt"
        options = {"epochs": 6, "seed": 0, "max_minutes": 10.0, "factor_dim": 0, "age_inputs": False,
                   "user_prior": 0.0, **options}
        report = train(self.ds, ckpt, until=self.cut, objective=label, batch_size=256, **options)
        return report, _GNN(*_gnn_scores(ckpt, self.train_ds, self.index, self.cut))

    def pair_features(self, label: str) -> np.ndarray:
        """LightGBM's columns for the test exposures: pair statistics of ``label`` on the
        exposures before the cut, the user feature table and log duration."""
        stats = PairStats(self.history(getattr(self.exp, label).astype(np.float32)))
        te = self.test
        return np.column_stack([stats.features(self.eu[te], self.ei[te]), self.user_features[self.eu[te]],
                                _duration(self.exp, te)])

    def history(self, y: np.ndarray) -> History:
        """The exposures before the cut, weighted by label ``y`` (one value per exposure)."""
        tr, index = self.train, self.index
        return History(self.eu[tr], self.ei[tr], self.exp.ts[tr], y[tr], len(index.users), len(index.items),
                       index.item_tags, index.item_creator, self.cut)


def kuairand_cut(exp: Any) -> int:
    """The KuaiRand test cut: the 80 % quantile of exposure times."""
    return int(np.quantile(exp.ts, 0.8))


def kuairand_before_cut(ds: Dataset) -> Dataset:
    """KuaiRand cut to what lies before the test cut (exposures and interactions)."""
    exp = ds.exposures
    assert exp is not None
    cut = kuairand_cut(exp)
    keep = exp.ts < cut
    return replace(ds, interactions=ds.interactions.take(ds.interactions.ts < cut),
                   exposures=replace(exp, **{f.name: getattr(exp, f.name)[keep] for f in fields(exp)}))


def _duration(exp: Any, mask: np.ndarray) -> np.ndarray:
    return np.log1p(exp.duration_ms[mask].astype(np.float64) / 1000.0)


def write_results(result: dict[str, Any], name: str, out_dir: Path = RESULTS_DIR) -> Path:
    """Write ``name.json`` and a Markdown table ``name.md``; returns the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(_portable(result), indent=2, default=str))
    lines = [f"# {name}", ""]
    for key in ("protocol", "leaks", "cut_ms", "test_users", "test_points", "users", "test_exposures", "seconds"):
        if key in result:
            lines.append(f"- {key}: {result[key]}")
    rep = result["gnn_training"]
    lines.append(f"- gnn training: {json.dumps(_short(rep))}")
    slices = sorted({s for m in result["results"].values() for s in m}, key=lambda s: list(
        next(iter(result["results"].values())).keys()).index(s) if s in next(iter(result["results"].values())) else 99)
    for s in slices:
        metrics = sorted({k for m in result["results"].values() for k in m.get(s, {})})
        lines += ["", f"## {s}", "", "| model | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        for model, by_slice in result["results"].items():
            vals = by_slice.get(s, {})
            lines.append(f"| {model} | " + " | ".join(f"{100 * vals[k]:.2f}" if k in vals else "" for k in metrics)
                         + " |")
    path = out_dir / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _portable(value: Any) -> Any:
    """``value`` with checkpoint paths cut to file names (results must not name this machine)."""
    if isinstance(value, dict):
        return {k: Path(v).name if k == "path" and isinstance(v, str) else _portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    return value


def _short(rep: dict[str, Any]) -> dict[str, Any]:
    if "history" not in rep:
        return {k: _short(v) for k, v in rep.items()}
    return {k: rep[k] for k in ("seconds", "best_epoch", "bytes", "version", "stopped_early") if k in rep}


VALIDATION_DIR = RESULTS_DIR.parent.parent / "artifacts" / "validation"


def evaluate(dataset: str, *, validation: bool = False, **kwargs: Any) -> list[Path]:
    """Run the evaluation of ``dataset`` ('movielens' runs both protocols) and write results.

    ``validation`` runs each protocol on the data before its own test period and writes
    to ``artifacts/validation/``: the numbers hyper-parameters are chosen on. ``ceiling``
    (KuaiRand) writes ``kuairand-ceiling`` instead (see ``model.ceiling``), ``prequential``
    (MovieLens) ``movielens-prequential`` (see ``model.prequential``)."""
    if dataset == "movielens":
        if kwargs.pop("prequential", False):
            from model.prequential import prequential_movielens

            return [write_results(prequential_movielens(**kwargs), "movielens-prequential")]
        protocols = kwargs.pop("protocols", ("global", "per_user"))
        if not validation:
            return [write_results(evaluate_movielens(p, **kwargs), f"movielens-{p}") for p in protocols]
        full = load_dataset("movielens", kwargs.pop("data_dir", None))
        return [write_results(evaluate_movielens(p, dataset=validation_dataset(full, p), **kwargs),
                              f"movielens-{p}", VALIDATION_DIR) for p in protocols]
    if dataset == "kuairand":
        if kwargs.pop("ceiling", False):
            from model.ceiling import kuairand_ceiling

            return [write_results(kuairand_ceiling(**kwargs), "kuairand-ceiling")]
        if validation:
            return [write_results(evaluate_kuairand(validation=True, **kwargs), "kuairand", VALIDATION_DIR)]
        return [write_results(evaluate_kuairand(**kwargs), "kuairand")]
    raise ValueError(f"unknown dataset {dataset!r}; expected 'movielens' or 'kuairand'")
