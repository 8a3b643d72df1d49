"""A quick train on a planted two-community dataset learns (loss falls, beats chance)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from graph_store.schema import CONTENT, USER
from model.datasets import build_store
from model.embedder import Embedder
from model.train import EarlyViews, Labels, balance_users, train

from .conftest import planted_dataset


def test_quick_train_learns_the_planted_communities(tmp_path) -> None:
    # 120 users x 20 events: at 60 x 14 the held-out AUROC sat near 0.6 whatever the inputs
    ds = planted_dataset(n_users=120, per_user=20)
    cut = int(np.quantile(ds.interactions.ts, 0.8))
    report = train(ds, tmp_path / "m.pt", epochs=8, seed=0, progress=False, until=cut,
                   batch_size=32, negatives=16, hidden=16, dim=16, lr=1e-2, factor_dim=8)
    losses = [h["train_loss"] for h in report["history"]]
    assert losses[-1] < losses[0] - 0.05, losses
    assert report["bytes"] < 2_000_000

    # held-out future watches vs never-watched items, on the graph before the cut
    store = build_store(ds, until=cut)
    emb = Embedder.load(report["path"])
    test = ds.interactions.take(ds.interactions.ts >= cut)
    users = store.lookup(USER, test.user)
    known = users >= 0
    u_vec = emb.embed(store, USER, users[known])
    pos = (u_vec * emb.embed(store, CONTENT, store.lookup(CONTENT, test.content[known]))).sum(1)
    rng = np.random.default_rng(1)
    neg_items = rng.integers(0, store.num_nodes(CONTENT), size=len(pos))
    neg = (u_vec * emb.embed(store, CONTENT, neg_items)).sum(1)
    auc = roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg])
    assert auc > 0.65, auc


def test_training_is_reproducible(tmp_path) -> None:
    ds = planted_dataset(n_users=20, n_items=10, per_user=6)
    kw = dict(epochs=1, seed=3, progress=False, batch_size=32, negatives=8, hidden=8, dim=8)
    a = train(ds, tmp_path / "a.pt", **kw)
    b = train(ds, tmp_path / "b.pt", **kw)
    assert a["version"] == b["version"]
    wa = torch.load(a["path"], weights_only=True)["weights"]
    wb = torch.load(b["path"], weights_only=True)["weights"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_balance_users_weighs_every_user_equally_at_power_one() -> None:
    labels = Labels(np.array([0, 0, 0, 1]), np.array([0, 1, 2, 0]), np.arange(4), np.ones(4, np.float32),
                    np.ones(4, np.float32))
    w = balance_users(labels, 1.0).weight
    assert w[:3].sum() == pytest.approx(w[3]) and w.mean() == pytest.approx(1.0)
    assert balance_users(labels, 0.0).weight.tolist() == [1.0] * 4


def test_early_views_show_a_user_after_its_first_events_with_the_label_still_ahead() -> None:
    # user 0: events at 10, 20 (a watch and a like at once), 30, 5000; user 1: one event at 15
    user = np.array([0, 1, 0, 0, 0, 0])
    ts = np.array([10, 15, 20, 20, 30, 5000])
    labels = Labels(user, np.arange(6), ts, np.ones(6, np.float32), np.ones(6, np.float32))
    views = EarlyViews(labels)
    rng = np.random.default_rng(0)
    rows, times = views.pick(labels, rng, share=1.0, max_events=1, window_ms=100)
    # as of the first event (seed time 11): labels at 20, 20 and 30; 5000 is out of the window,
    # the first event itself and user 1 (nothing after its only event) have no view
    assert rows.tolist() == [2, 3, 4] and times.tolist() == [11, 11, 11]
    rows, times = views.pick(labels, rng, share=1.0, max_events=3, window_ms=10_000)
    assert set(rows.tolist()) <= {2, 3, 4, 5}
    assert all(t in (11, 21, 31) and t <= ts[r] for r, t in zip(rows.tolist(), times.tolist()))
    assert len(views.pick(labels, rng, share=0.0, max_events=3, window_ms=10_000)[0]) == 0
