"""Checkpoints load with weights_only=True, reproduce vectors, and refuse a foreign schema."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graph_store.schema import CONTENT, USER
from model.checkpoint import Checkpoint, CheckpointError
from model.embedder import Embedder
from model.encoders import FeatureEncoders
from model.sage import HeteroSAGE


def _checkpoint(store) -> Checkpoint:
    torch.manual_seed(0)
    enc = FeatureEncoders.fit(store)
    model = HeteroSAGE(enc.widths(), hash_buckets=enc.hash_buckets, hidden=16, dim=8)
    return Checkpoint(model.eval(), enc, meta={"dataset": "tiny"})


def test_round_trip_with_weights_only(tiny_store, tmp_path) -> None:
    ckpt = _checkpoint(tiny_store)
    path = ckpt.save(tmp_path / "m.pt")
    raw = torch.load(path, weights_only=True)  # plain data only, no pickled classes
    assert raw["version"] == ckpt.version and raw["version"].startswith("sage-")
    before = Embedder(ckpt).embed(tiny_store, USER, np.arange(3))
    loaded = Embedder.load(path)
    assert (loaded.version, loaded.dim) == (ckpt.version, 8)
    np.testing.assert_allclose(loaded.embed(tiny_store, USER, np.arange(3)), before, rtol=1e-6, atol=1e-6)


def test_version_follows_the_weights(tiny_store, tmp_path) -> None:
    a = _checkpoint(tiny_store)
    a.save(tmp_path / "a.pt")
    b = _checkpoint(tiny_store)
    b.save(tmp_path / "b.pt")
    assert a.version == b.version  # same seed, same weights
    with torch.no_grad():
        b.model.head[CONTENT].bias.add_(1.0)
    b.version = ""
    b.save(tmp_path / "c.pt")
    assert b.version != a.version


@pytest.mark.parametrize("key", ["node_types", "edge_types"])
def test_mismatched_schema_is_refused(tiny_store, tmp_path, key) -> None:
    state = _checkpoint(tiny_store).state()
    if key == "node_types":
        state["schema"]["node_types"] = state["schema"]["node_types"] + ["playlist"]
    else:
        state["schema"]["edge_types"] = state["schema"]["edge_types"][:-1]
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=f"schema does not match.*{key}"):
        Embedder.load(tmp_path / "bad.pt")


def test_a_foreign_file_is_refused(tmp_path) -> None:
    torch.save({"weights": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="format"):
        Checkpoint.load(tmp_path / "other.pt")
