"""The bundled datasets load with the counts their READMEs give, and replay as valid events."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from graph_store.events import CatalogUpsert, decode
from model.datasets import LIKE, SHARE, WATCH, iter_events, load_dataset


@pytest.fixture(scope="module")
def movielens():
    return load_dataset("movielens")


@pytest.fixture(scope="module")
def kuairand():
    return load_dataset("kuairand")


def test_movielens_counts_follow_the_readme(movielens) -> None:
    kinds = np.bincount(movielens.interactions.kind, minlength=3)
    assert kinds[WATCH] == 100_836  # every rating
    assert kinds[LIKE] == 48_580  # rating >= 4
    assert kinds[SHARE] == 3_683  # tag applications, a proxy share
    assert len(set(movielens.interactions.user)) == 610
    assert len(movielens.catalog) == 9_742
    assert np.isnan(movielens.interactions.completion_pct).all()
    assert np.all(np.diff(movielens.interactions.ts) >= 0)
    assert movielens.exposures is None


def test_kuairand_counts_and_completion(kuairand) -> None:
    inter = kuairand.interactions
    kinds = np.bincount(inter.kind, minlength=3)
    assert (kinds[WATCH], kinds[LIKE], kinds[SHARE]) == (42_657, 239, 28)
    watch_pct = inter.completion_pct[inter.kind == WATCH]
    known = watch_pct[np.isfinite(watch_pct)]
    assert known.min() >= 0 and known.max() <= 100 and len(known) > 40_000
    assert np.isnan(inter.completion_pct[inter.kind != WATCH]).all()
    assert kuairand.exposures is not None and len(kuairand.exposures) == 43_028
    assert int(kuairand.exposures.long_view.sum()) == 3_621
    assert int(kuairand.exposures.is_click.sum()) == 7_492
    assert len(kuairand.user_ids) == 1_000
    assert all(len(col) == 1_000 for col in kuairand.user_features.values())
    assert sum(c is not None for c in kuairand.catalog.creator) == len(kuairand.catalog)


def test_iter_events_is_catalog_first_then_time_ordered_and_valid(kuairand) -> None:
    events = list(itertools.islice(iter_events(kuairand), len(kuairand.catalog) + 2_000))
    decoded = [decode(__import__("json").dumps(e)) for e in events]
    n_cat = len(kuairand.catalog)
    assert all(isinstance(e, CatalogUpsert) for e in decoded[:n_cat])
    assert not any(isinstance(e, CatalogUpsert) for e in decoded[n_cat:])
    first_interaction = decoded[n_cat].timestamp
    assert all(e.timestamp <= first_interaction for e in decoded[:n_cat])
    stamps = [e.timestamp for e in decoded[n_cat:]]
    assert stamps == sorted(stamps)
