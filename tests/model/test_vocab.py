"""Per-id embeddings are keyed by external id: the same id gets the same row in any store."""

from __future__ import annotations

import numpy as np
import torch

from graph_store.schema import CONTENT, USER
from model.checkpoint import Checkpoint
from model.embedder import Embedder
from model.encoders import FeatureEncoders
from model.sage import HeteroSAGE
from model.vocab import UNKNOWN_ROW, IdVocabulary
from tests.model.conftest import build_tiny_store


def _hybrid(store) -> Checkpoint:
    torch.manual_seed(0)
    enc = FeatureEncoders.fit(store)
    vocab = IdVocabulary.fit(store)  # u0..u2 and c0..c2; c3 has only catalog edges
    model = HeteroSAGE(enc.widths(), hash_buckets=enc.hash_buckets, hidden=16, dim=8,
                       id_sizes=vocab.sizes(), id_dim=4)
    return Checkpoint(model.eval(), enc, vocab=vocab)


def test_known_ids_get_their_row_unknown_ids_the_fallback(tiny_store) -> None:
    vocab = IdVocabulary.fit(tiny_store)
    assert sorted(vocab.ids[USER]) == ["u0", "u1", "u2"] and sorted(vocab.ids[CONTENT]) == ["c0", "c1", "c2"]
    assert vocab.sizes() == {USER: 4, CONTENT: 4}
    rows = vocab.rows_of(CONTENT, ["c1", "c3", "never-seen"])
    assert rows[0] == vocab.ids[CONTENT].index("c1") + 1
    assert list(rows[1:]) == [UNKNOWN_ROW, UNKNOWN_ROW]
    other = build_tiny_store(reversed_ids=True)
    assert other.lookup(USER, ["u0"])[0] != tiny_store.lookup(USER, ["u0"])[0]
    np.testing.assert_array_equal(vocab.rows(other, USER, other.lookup(USER, ["u0", "u2"])),
                                  vocab.rows(tiny_store, USER, tiny_store.lookup(USER, ["u0", "u2"])))


def test_same_external_id_same_vector_in_a_store_with_other_dense_ids(tiny_store, tmp_path) -> None:
    ckpt = _hybrid(tiny_store)
    with torch.no_grad():  # make the id rows matter
        for emb in ckpt.model.ids.values():
            emb.weight.normal_(std=3.0)
    path = ckpt.save(tmp_path / "hybrid.pt")
    raw = torch.load(path, weights_only=True)
    assert raw["id_vocab"][USER] == ckpt.vocab.ids[USER] and raw["weights"]["ids.user.weight"].dtype == torch.float16
    emb = Embedder.load(path)
    other = build_tiny_store(reversed_ids=True)
    for t, names in ((USER, ["u0", "u1", "u2"]), (CONTENT, ["c0", "c1", "c2", "c3"])):
        a = emb.embed(tiny_store, t, tiny_store.lookup(t, names))
        b = emb.embed(other, t, other.lookup(t, names))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # a user unknown to the vocabulary still gets a vector (from the unknown row)
    new = other.index(USER, ["u-new"])
    assert np.isfinite(emb.embed(other, USER, new)).all()
    # the id rows change the vector: without them u0 would embed differently
    plain = Embedder(Checkpoint(emb.model, emb.encoders))
    u0 = tiny_store.lookup(USER, ["u0"])
    assert not np.allclose(plain.embed(tiny_store, USER, u0), emb.embed(tiny_store, USER, u0))
