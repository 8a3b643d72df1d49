"""The evaluation splits: validation data ends before the test period; per-user starts."""

from __future__ import annotations

import numpy as np
import pytest

from model.datasets import WATCH, load_dataset
from model.evaluate import (
    _Index, first_test_events, kuairand_before_cut, kuairand_cut, movielens_split, validation_dataset,
)


@pytest.fixture(scope="module")
def movielens():
    return load_dataset("movielens")


def test_global_validation_ends_before_the_test_cut_and_has_its_own_cut_inside(movielens) -> None:
    in_train, cut, _ = movielens_split(movielens, "global")
    val = validation_dataset(movielens, "global")
    assert val.interactions.ts.max() < cut and len(val.interactions) == int(in_train.sum())
    _, val_cut, _ = movielens_split(val, "global")
    assert val_cut < cut


def test_per_user_split_holds_out_each_users_last_fifth(movielens) -> None:
    in_train, now, starts = movielens_split(movielens, "per_user")
    inter = movielens.interactions
    u = inter.user[0]
    mine = (inter.user == u) & (inter.kind == WATCH)
    n, held = int(mine.sum()), int((mine & ~in_train).sum())
    assert n >= 5 and n - int(np.floor(n * 0.8)) <= held < n  # ties at the start time are held out too
    assert (inter.ts[mine & in_train] < starts[u]).all() and (inter.ts[mine & ~in_train] >= starts[u]).all()
    assert now == int(inter.ts[in_train].max()) + 1
    # validation data is the training part: nobody's test ratings are in it
    val = validation_dataset(movielens, "per_user")
    assert len(val.interactions) == int(in_train.sum())


def test_kuairand_validation_data_stops_at_the_test_cut() -> None:
    ds = load_dataset("kuairand")
    cut = kuairand_cut(ds.exposures)
    val = kuairand_before_cut(ds)
    assert val.exposures.ts.max() < cut and val.interactions.ts.max() < cut
    assert len(val.exposures.user) == len(val.exposures.long_view) == int((ds.exposures.ts < cut).sum())


def test_new_users_are_revealed_their_first_test_watch_only(movielens) -> None:
    in_train, _, _ = movielens_split(movielens, "global")
    inter = movielens.interactions
    test = inter.take(~in_train & (inter.kind == WATCH))
    index = _Index(movielens)
    trained = set(inter.user[in_train].tolist())
    positives: dict[int, set[int]] = {}
    for u, i in zip(index.u(test.user).tolist(), index.i(test.content).tolist()):
        positives.setdefault(u, set()).add(i)
    newcomers = np.array(sorted(u for u in positives if list(index.users)[u] not in trained), np.int64)
    rows = first_test_events(test, index, newcomers, positives)
    assert len(rows) > 50  # the global split's test users are mostly new
    first = test.take(rows)
    assert len(set(first.user.tolist())) == len(rows)
    for r in rows[:20].tolist():
        mine = test.ts[test.user == test.user[r]]
        assert test.ts[r] == mine.min()
    # a user whose only positive is its first event has nothing left to score: left out
    lone = int(index.u(first.user[:1])[0])
    only_first = {**positives, lone: {int(index.i(first.content[:1])[0])}}
    assert len(first_test_events(test, index, newcomers, only_first)) == len(rows) - 1
    # the graph the GNN scores them on: training plus these events, in time order
    both = movielens.interactions.take(in_train).concat(first)
    assert len(both) == int(in_train.sum()) + len(rows) and (np.diff(both.ts) >= 0).all()
