"""Baselines the GNN must beat, all on dense (user, item) indices of one dataset.

Each baseline is fitted on a :class:`History` (interactions before a cut) and scores
(user, item) pairs; higher is better. ``score_matrix`` scores every item for some users.

- ``Popularity``: interaction count.
- ``Trending``: exponentially decayed count at the cut (half-life chosen on validation).
- ``TagSimilarity``: cosine between the user's tag profile and the item's tags.
- ``ALS``: implicit-feedback matrix factorisation (the ``implicit`` package).
- ``LightGBMPairs``: a gradient-boosted classifier on a flat table of user, item, creator
  and tag statistics computed strictly before the labelled period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import scipy.sparse as sp

DAY_MS = 86_400_000


@dataclass
class History:
    """Interactions before ``now`` in dense indices, plus item side information."""

    user: np.ndarray  # int64 [n]
    item: np.ndarray  # int64 [n]
    ts: np.ndarray  # int64 [n]
    weight: np.ndarray  # float32 [n] (e.g. 1 per interaction, completion, label)
    n_users: int
    n_items: int
    item_tags: sp.csr_matrix  # [n_items, n_tags] 0/1
    item_creator: np.ndarray  # int64 [n_items], -1 unknown
    now: int

    def matrix(self) -> sp.csr_matrix:
        """User x item summed weights [n_users, n_items]."""
        return sp.csr_matrix(
            (self.weight.astype(np.float32), (self.user, self.item)), shape=(self.n_users, self.n_items)
        )


class Recommender(Protocol):
    name: str

    def fit(self, history: History) -> None: ...

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray: ...

    def score_matrix(self, users: np.ndarray) -> np.ndarray: ...


class _ItemScore:
    """A baseline whose score depends on the item only."""

    name = "item"
    item_score: np.ndarray

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.item_score[items]

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_score, (len(users), len(self.item_score)))


class Popularity(_ItemScore):
    name = "popularity"

    def fit(self, history: History) -> None:
        self.item_score = np.bincount(history.item, weights=history.weight, minlength=history.n_items)


class Trending(_ItemScore):
    name = "trending"

    def __init__(self, half_life_days: float = 30.0) -> None:
        self.half_life_days = half_life_days

    def fit(self, history: History) -> None:
        age = (history.now - history.ts) / (self.half_life_days * DAY_MS)
        w = history.weight * np.exp2(-np.clip(age, 0, None))
        self.item_score = np.bincount(history.item, weights=w, minlength=history.n_items)


class TagSimilarity:
    name = "tag-similarity"

    def fit(self, history: History) -> None:
        tags = history.item_tags.astype(np.float32)
        # idf so that a tag on every item does not dominate
        df = np.asarray((tags > 0).sum(0)).ravel()
        idf = np.log((1 + tags.shape[0]) / (1 + df)).astype(np.float32)
        items = sp.csr_matrix(tags.multiply(idf[None, :]))
        norms = np.sqrt(np.asarray(items.multiply(items).sum(1)).ravel())
        self.items = sp.csr_matrix(sp.diags(1 / np.maximum(norms, 1e-9)) @ items)
        prof = history.matrix() @ self.items
        pn = np.sqrt(np.asarray(prof.multiply(prof).sum(1)).ravel())
        self.users = sp.csr_matrix(sp.diags(1 / np.maximum(pn, 1e-9)) @ prof)

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.asarray(self.users[users].multiply(self.items[items]).sum(1)).ravel()

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.users[users] @ self.items.T).todense())


class ALS:
    name = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.05, iterations: int = 15, alpha: float = 10.0,
                 seed: int = 0) -> None:
        self.params = dict(factors=factors, regularization=regularization, iterations=iterations, alpha=alpha)
        self.seed = seed

    def fit(self, history: History) -> None:
        from implicit.als import AlternatingLeastSquares

        model = AlternatingLeastSquares(**self.params, random_state=self.seed)
        model.fit(history.matrix(), show_progress=False)
        self.u = np.asarray(model.user_factors)
        self.v = np.asarray(model.item_factors)

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (self.u[users] * self.v[items]).sum(1)

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        return self.u[users] @ self.v.T


class PairStats:
    """Flat-table features of (user, item) pairs from a History (nothing after ``now``)."""

    NAMES = (
        "item_log_count", "item_trend_7d", "item_trend_30d", "item_days_since_first", "item_days_since_last",
        "item_mean_weight", "user_log_count", "user_mean_weight", "user_tag_affinity", "tag_log_pop",
        "creator_log_count", "creator_mean_weight", "user_creator_count",
    )

    def __init__(self, history: History) -> None:
        h = history
        n_i = h.n_items
        cnt = np.bincount(h.item, minlength=n_i).astype(np.float64)
        wsum = np.bincount(h.item, weights=h.weight, minlength=n_i)
        age = (h.now - h.ts) / DAY_MS
        last = np.full(n_i, np.inf)
        np.minimum.at(last, h.item, age)
        first = np.zeros(n_i)
        np.maximum.at(first, h.item, age)
        first[cnt == 0] = np.nan
        last[cnt == 0] = np.nan
        self.item = np.stack([
            np.log1p(cnt),
            np.bincount(h.item, weights=np.exp2(-age / 7), minlength=n_i),
            np.bincount(h.item, weights=np.exp2(-age / 30), minlength=n_i),
            first, last,
            np.where(cnt > 0, wsum / np.maximum(cnt, 1), np.nan),
        ], 1)
        ucnt = np.bincount(h.user, minlength=h.n_users).astype(np.float64)
        uw = np.bincount(h.user, weights=h.weight, minlength=h.n_users)
        self.user = np.stack([np.log1p(ucnt), np.where(ucnt > 0, uw / np.maximum(ucnt, 1), np.nan)], 1)
        self.tags = TagSimilarity()
        self.tags.fit(h)
        tag_pop = np.asarray(h.item_tags.T @ cnt).ravel()
        ntag = np.maximum(np.asarray(h.item_tags.sum(1)).ravel(), 1)
        self.item_tag_pop = np.log1p(np.asarray(h.item_tags @ tag_pop).ravel() / ntag)
        creator = h.item_creator
        n_c = int(creator.max()) + 1 if (creator >= 0).any() else 1
        ic = creator[h.item]
        ok = ic >= 0
        ccnt = np.bincount(ic[ok], minlength=n_c).astype(np.float64)
        cw = np.bincount(ic[ok], weights=h.weight[ok], minlength=n_c)
        self.creator = np.stack([np.log1p(ccnt), np.where(ccnt > 0, cw / np.maximum(ccnt, 1), np.nan)], 1)
        self.item_creator = creator
        self.uc = sp.csr_matrix((np.ones(int(ok.sum())), (h.user[ok], ic[ok])), shape=(h.n_users, n_c))

    def features(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        c = self.item_creator[items]
        has_c = c >= 0
        cfeat = np.where(has_c[:, None], self.creator[np.maximum(c, 0)], np.nan)
        ucc = np.where(has_c, np.asarray(self.uc[users, np.maximum(c, 0)]).ravel(), np.nan)
        return np.column_stack([
            self.item[items], self.user[users], self.tags.score_pairs(users, items),
            self.item_tag_pop[items], cfeat, ucc,
        ]).astype(np.float32)


def fit_classifier(x: np.ndarray, y: np.ndarray, seed: int = 0) -> Any:
    """The flat-table LightGBM classifier on rows in time order; the latest fifth stops it early."""
    import lightgbm as lgb

    n_val = max(1, len(y) // 5)
    model = lgb.LGBMClassifier(
        n_estimators=500, learning_rate=0.05, num_leaves=31, min_child_samples=20, subsample=0.8,
        subsample_freq=1, colsample_bytree=0.8, random_state=seed, verbose=-1,
    )
    model.fit(x[:-n_val], y[:-n_val], eval_set=[(x[-n_val:], y[-n_val:])],
              callbacks=[lgb.early_stopping(30, verbose=False)])
    return model


class LightGBMPairs:
    """LightGBM on PairStats. ``fit_rows`` takes labelled pairs whose features come from a
    History that ends before them; ``fit`` (ranking) builds those rows itself from the
    last ``label_days`` of the history with uniform negatives."""

    name = "lightgbm"

    def __init__(self, label_fraction: float = 0.15, negatives: int = 10, seed: int = 0,
                 user_features: np.ndarray | None = None) -> None:
        self.label_fraction, self.negatives, self.seed = label_fraction, negatives, seed
        self.user_features = user_features  # [n_users, f] extra columns (KuaiRand), or None

    def _x(self, stats: PairStats, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        x = stats.features(users, items)
        if self.user_features is not None:
            x = np.column_stack([x, self.user_features[users]])
        return x

    def fit_rows(self, stats: PairStats, users: np.ndarray, items: np.ndarray, y: np.ndarray,
                 extra: np.ndarray | None = None) -> None:
        x = self._x(stats, users, items)
        if extra is not None:
            x = np.column_stack([x, extra])
        self.model = fit_classifier(x, y, self.seed)

    def fit(self, history: History) -> None:
        order = np.argsort(history.ts, kind="stable")
        split = int(len(order) * (1 - self.label_fraction))
        t_split = int(history.ts[order[split]])
        before = history_before(history, t_split)
        lab = order[split:]
        # positives: first touch of a pair in the label period that is new to the user
        seen = set(zip(before.user.tolist(), before.item.tolist()))
        pos_u, pos_i = [], []
        for u, i in zip(history.user[lab].tolist(), history.item[lab].tolist()):
            if (u, i) not in seen:
                seen.add((u, i))
                pos_u.append(u)
                pos_i.append(i)
        rng = np.random.default_rng(self.seed)
        pu = np.array(pos_u, np.int64)
        pi = np.array(pos_i, np.int64)
        nu = np.repeat(pu, self.negatives)
        ni = rng.integers(0, history.n_items, len(nu))
        users = np.r_[pu, nu]
        items = np.r_[pi, ni]
        y = np.r_[np.ones(len(pu)), np.zeros(len(nu))]
        perm = rng.permutation(len(y))
        self.fit_rows(PairStats(before), users[perm], items[perm], y[perm])
        self.stats = PairStats(history)

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        # dense input and plain probabilities: lightgbm returns an ndarray (not sparse or a list)
        return cast(np.ndarray, self.model.predict_proba(self._x(self.stats, users, items)))[:, 1]

    def score_matrix(self, users: np.ndarray) -> np.ndarray:
        n_i = len(self.stats.item)
        out = np.empty((len(users), n_i), np.float32)
        for r, u in enumerate(users):
            out[r] = self.score_pairs(np.full(n_i, u), np.arange(n_i))
        return out


def history_before(h: History, t: int) -> History:
    """``h`` cut to interactions before ``t``, with ``now = t``."""
    keep = h.ts < t
    return History(h.user[keep], h.item[keep], h.ts[keep], h.weight[keep], h.n_users, h.n_items,
                   h.item_tags, h.item_creator, t)
