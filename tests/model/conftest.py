"""Tiny hand-built graphs and datasets for the model tests."""

from __future__ import annotations

import numpy as np
import pytest

from graph_store.events import CatalogUpsert
from graph_store.ingest import add_catalog, add_interactions
from graph_store.schema import CONTENT, USER
from graph_store.store import GraphStore
from model.datasets import Catalog, Dataset, Interactions

T0 = 1_600_000_000_000


@pytest.fixture
def tiny_store() -> GraphStore:
    """3 users, 4 content items (c3 has only catalog edges), 2 creators, 3 tags."""
    return build_tiny_store()


def build_tiny_store(before: int | None = None, *, reversed_ids: bool = False) -> GraphStore:
    """The ``tiny_store`` graph, holding only interactions strictly before ``before``;
    ``reversed_ids``: the same graph with users and content in reverse dense order."""
    store = GraphStore()
    if reversed_ids:
        store.index(USER, ["u2", "u1", "u0"])
        store.index(CONTENT, ["c3", "c2", "c1", "c0"])
    add_catalog(store, [
        CatalogUpsert("c0", T0, creator_id="k0", tags=("a",), duration_s=30.0),
        CatalogUpsert("c1", T0, creator_id="k0", tags=("a", "b"), duration_s=60.0),
        CatalogUpsert("c2", T0, creator_id="k1", tags=("b",)),
        CatalogUpsert("c3", T0, creator_id="k1", tags=("c",), duration_s=12.0),
    ])
    ts = np.array([T0 + 10, T0 + 20, T0 + 30, T0 + 40, T0 + 50], np.int64)
    keep = ts < before if before is not None else np.ones(len(ts), bool)
    add_interactions(
        store,
        np.array(["u0", "u0", "u1", "u1", "u2"], dtype=object)[keep],
        np.array(["c0", "c1", "c1", "c2", "c0"], dtype=object)[keep],
        ts[keep],
        np.array([0, 1, 0, 2, 0], np.int8)[keep],
        np.array([90.0, np.nan, 20.0, np.nan, np.nan], np.float32)[keep],
    )
    store.index(USER, ["u0", "u1", "u2"])  # same dense ids whatever is cut
    return store


def planted_dataset(n_users: int = 60, n_items: int = 40, per_user: int = 14, seed: int = 0) -> Dataset:
    """Two communities: even users watch items tagged 'x', odd users items tagged 'y'
    (90 % of the time), at random times. A model that learns anything beats chance."""
    rng = np.random.default_rng(seed)
    items = np.arange(n_items)
    users, contents, ts = [], [], []
    for u in range(n_users):
        home = items[items % 2 == u % 2]
        away = items[items % 2 != u % 2]
        for _ in range(per_user):
            pool = home if rng.random() < 0.9 else away
            users.append(f"u{u}")
            contents.append(f"c{rng.choice(pool)}")
            ts.append(T0 + int(rng.integers(0, 10_000_000)))
    order = np.argsort(ts, kind="stable")
    n = len(ts)
    inter = Interactions(
        np.array(users, dtype=object)[order], np.array(contents, dtype=object)[order],
        np.array(ts, np.int64)[order], np.zeros(n, np.int8), np.full(n, np.nan, np.float32),
    )
    catalog = Catalog(
        content=np.array([f"c{i}" for i in items], dtype=object),
        creator=[f"k{i % 5}" for i in items],
        tags=[["x" if i % 2 == 0 else "y"] for i in items],
        duration_s=np.full(n_items, np.nan, np.float32),
        genre=[None] * n_items,
        title=[None] * n_items,
    )
    return Dataset("planted", inter, catalog)
