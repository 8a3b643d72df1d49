"""A quick train on a planted two-community dataset learns (loss falls, beats chance)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from graph_store.schema import CONTENT, USER
from model.datasets import build_store
from model.embedder import Embedder
from model.train import Labels, balance_users, train

from .conftest import planted_dataset


def test_quick_train_learns_the_planted_communities(tmp_path) -> None:
    ds = planted_dataset()
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
    assert auc > 0.6, auc


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
