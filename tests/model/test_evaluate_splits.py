"""The evaluation splits: validation data ends before the test period; per-user starts."""

from __future__ import annotations

import numpy as np
import pytest

from model.datasets import WATCH, load_dataset
from model.evaluate import kuairand_before_cut, kuairand_cut, movielens_split, validation_dataset


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
