"""The Embedder on a GraphStore: shapes, determinism, cold-start content, time cuts."""

from __future__ import annotations

import numpy as np
import torch

from graph_store.events import CatalogUpsert
from graph_store.ingest import add_catalog
from graph_store.schema import CONTENT, CREATOR, TAG, USER
from model.checkpoint import Checkpoint
from model.embedder import Embedder
from model.encoders import FeatureEncoders
from model.sage import HeteroSAGE

from .conftest import T0, build_tiny_store


def _embedder(store) -> Embedder:
    torch.manual_seed(0)
    enc = FeatureEncoders.fit(store)
    return Embedder(Checkpoint(HeteroSAGE(enc.widths(), hash_buckets=enc.hash_buckets, hidden=16, dim=8).eval(), enc))


def test_shapes_per_node_type_and_determinism(tiny_store) -> None:
    emb = _embedder(tiny_store)
    for node_type in (USER, CONTENT, CREATOR, TAG):
        n = tiny_store.num_nodes(node_type)
        out = emb.embed(tiny_store, node_type, np.arange(n), batch_size=2)
        assert out.shape == (n, 8) and out.dtype == np.float32 and np.isfinite(out).all()
    a = emb.embed(tiny_store, USER, np.array([2, 0, 0]))
    np.testing.assert_array_equal(a[1], a[2])  # duplicates allowed, same vector
    np.testing.assert_array_equal(a, emb.embed(tiny_store, USER, np.array([2, 0, 0])))


def test_cold_start_content_with_only_catalog_edges_gets_a_vector(tiny_store) -> None:
    emb = _embedder(tiny_store)
    add_catalog(tiny_store, [
        CatalogUpsert("new-a", T0 + 100, creator_id="k0", tags=("a",)),
        CatalogUpsert("new-c", T0 + 100, creator_id="k1", tags=("c",)),
    ])
    idx = tiny_store.lookup(CONTENT, ["new-a", "new-c"])
    vec = emb.embed(tiny_store, CONTENT, idx)
    assert np.isfinite(vec).all() and np.abs(vec).sum() > 0
    assert not np.allclose(vec[0], vec[1])  # its tags and creator shape it


def test_before_hides_later_edges(tiny_store) -> None:
    emb = _embedder(tiny_store)
    u1 = tiny_store.lookup(USER, ["u1"])
    now = emb.embed(tiny_store, USER, u1)
    early = emb.embed(tiny_store, USER, u1, before=T0 + 35)  # its share at T0+40 is hidden
    assert not np.allclose(now, early)
    # the same as on a graph that never held the later edges (sampling, degrees, recency)
    cut = build_tiny_store(before=T0 + 35)
    np.testing.assert_array_equal(early, emb.embed(cut, USER, cut.lookup(USER, ["u1"]), before=T0 + 35))
