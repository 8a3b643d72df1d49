"""The prequential replay: its points, no look-ahead in fresh vectors, one small run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from graph_store.schema import USER
from model.datasets import WATCH, build_store, load_dataset
from model.embedder import Embedder
from model.evaluate import _Index, movielens_split, users_as_of
from model.prequential import DAY_MS, FRESH, FROZEN, PER_USER, SLICES, Points, prequential_movielens
from streams.cli import main
from tests.conftest import REPO


@pytest.fixture(scope="module")
def movielens():
    return load_dataset("movielens")


def test_points_hold_new_items_at_their_time_and_leave_out_the_past(movielens) -> None:
    index = _Index(movielens)
    _, cut, _ = movielens_split(movielens, "global")
    points = Points(movielens, index, cut)
    inter = movielens.interactions
    watch = inter.kind == WATCH
    users, items, ts = index.u(inter.user[watch]), index.i(inter.content[watch]), inter.ts[watch]
    assert len(points) > 10_000 and (points.time >= cut).all() and (np.diff(points.time) >= 0).all()
    for r in np.random.default_rng(0).choice(len(points), 200, replace=False).tolist():
        u, t = int(points.user[r]), int(points.time[r])
        mine = users == u
        before = set(items[mine & (ts < t)].tolist())
        at = set(items[mine & (ts == t)].tolist()) - before
        assert set(points.excluded(r).tolist()) == before
        assert set(points.positives(r).tolist()) == at and at
        assert points.events_since_cut[r] == int((mine & (ts >= cut) & (ts < t)).sum())


def test_a_fresh_vector_sees_nothing_at_or_after_its_time(movielens) -> None:
    emb = Embedder.load(REPO / "model" / "checkpoints" / "movielens.pt")
    inter = movielens.interactions
    _, cut, _ = movielens_split(movielens, "global")
    # a user with many test ratings, at its sixth distinct test time
    test_users, counts = np.unique(inter.user[(inter.ts >= cut) & (inter.kind == WATCH)], return_counts=True)
    user = test_users[np.argmax(counts)]
    t = int(np.unique(inter.ts[(inter.user == user) & (inter.ts >= cut)])[5])
    full = build_store(movielens)
    past = build_store(replace(movielens, interactions=inter.take(inter.ts < t)))
    times = np.array([t], np.int64)
    got = users_as_of(emb, full, full.lookup(USER, [user]), times, DAY_MS)
    want = emb.embed(past, USER, past.lookup(USER, [user]), before=t // DAY_MS * DAY_MS, times=times)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # and what the user rated at t does move the vector once it is in the past
    later = users_as_of(emb, full, full.lookup(USER, [user]), times + 1, DAY_MS)
    assert not np.allclose(got, later)


def test_a_small_replay_end_to_end(tmp_path: Path) -> None:
    out = prequential_movielens(epochs=1, max_minutes=0.5, work_dir=tmp_path, progress=False, max_points=300)
    assert out["test_points"][SLICES[0]] == 300
    assert sum(out["test_points"][s] for s in SLICES[1:]) == 300
    assert out["test_points"][PER_USER] == out["users"] > 1
    rows = out["results"]
    assert len(rows) == 6 and FRESH in rows and FROZEN in rows
    for by_slice in rows.values():
        for metrics in by_slice.values():
            assert 0.0 <= metrics["NDCG@20"] <= 1.0 and 0.0 <= metrics["Recall@20"] <= 1.0
            assert 0.3 < metrics["AUROC"] <= 1.0


def test_the_replay_is_refused_for_kuairand(capsys) -> None:
    assert main(["evaluate", "--dataset", "kuairand", "--prequential"]) == 2
    assert "--dataset movielens" in capsys.readouterr().err
