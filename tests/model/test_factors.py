"""Fixed collaborative input factors: fitting, rotation onto a reference, the fold-in slots."""

from __future__ import annotations

import numpy as np
import torch
import pytest

from graph_store.schema import CONTENT, USER, WATCHED
from model.datasets import build_store
from model.embedder import Embedder
from model.factors import Factors, align, fit_factors
from model.train import train

from .conftest import T0, planted_dataset


def test_align_undoes_a_rotation_and_keeps_dot_products() -> None:
    rng = np.random.default_rng(0)
    ref = Factors({USER: ["a", "b", "c"], CONTENT: ["x", "y", "z", "w"]},
                  {USER: rng.normal(size=(3, 4)).astype(np.float32),
                   CONTENT: rng.normal(size=(4, 4)).astype(np.float32)})
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    rotated = Factors(ref.ids, {t: (v @ q).astype(np.float32) for t, v in ref.vectors.items()})
    back = align(rotated, ref)
    for t in ref.vectors:
        np.testing.assert_allclose(back.vectors[t], ref.vectors[t], atol=1e-4)
    np.testing.assert_allclose(back.vectors[USER] @ back.vectors[CONTENT].T,
                               rotated.vectors[USER] @ rotated.vectors[CONTENT].T, atol=1e-4)


def test_fit_factors_scales_each_side_and_puts_an_unknown_row_first() -> None:
    ds = planted_dataset()
    f = fit_factors(ds.interactions.user, ds.interactions.content, np.ones(len(ds.interactions)), dim=8)
    assert f.dim == 8 and len(f.ids[USER]) == 60 and len(f.ids[CONTENT]) == 40
    for t in (USER, CONTENT):
        assert f.vectors[t].std() == pytest.approx(1.0, rel=1e-3)
        table = f.tables()[t]
        assert table.shape == (len(f.ids[t]) + 1, 8) and not table[0].any()
    # the planted communities show: same-community items score higher for a user
    v = dict(zip(f.ids[CONTENT], f.vectors[CONTENT], strict=True))
    u = dict(zip(f.ids[USER], f.vectors[USER], strict=True))
    home = np.mean([u["u0"] @ v[f"c{i}"] for i in range(0, 40, 2)])
    away = np.mean([u["u0"] @ v[f"c{i}"] for i in range(1, 40, 2)])
    assert home > away
    with pytest.raises(ValueError, match="no interactions"):
        fit_factors(np.array([]), np.array([]), np.array([]))


@pytest.fixture(scope="module")
def factor_model(tmp_path_factory):
    ds = planted_dataset()
    out = tmp_path_factory.mktemp("f") / "m.pt"
    report = train(ds, out, epochs=2, seed=0, progress=False, batch_size=32, negatives=16, hidden=16, dim=16,
                   factor_dim=8)
    return ds, Embedder.load(out), report


def test_factor_slots_follow_a_users_fresh_watch(factor_model) -> None:
    ds, emb, report = factor_model
    assert emb.dim == 16 + 8 and emb.model.factor_skip
    store = build_store(ds)
    # a brand-new user: no factor of its own, no edges -> zero factor slots
    (new_user,) = store.index(USER, ["newcomer"])
    before = emb.embed(store, USER, np.array([new_user]))[0]
    assert not before[16:].any()
    # one watch of c2: the slots become c2's factor times the model's scale, shrunk by the
    # learned prior count (one item over 1 + prior) and by the user prior (1 / (1 + c)), at once
    c2, c4 = store.lookup(CONTENT, np.array(["c2", "c4"], dtype=object)).tolist()
    store.add_edges(WATCHED, [new_user], [c2], [T0 + 20_000_000], attr=[np.nan])
    after = emb.embed(store, USER, np.array([new_user]))[0]
    f2, f4 = emb.embed(store, CONTENT, np.array([c2, c4]))[:, 16:]
    scale = float(emb.model.fold_scale.detach())
    prior = float(torch.nn.functional.softplus(emb.model.fold_prior.detach()))
    c = emb.model.user_prior
    assert prior > 0 and c > 0 and np.abs(f2).sum() > 0
    np.testing.assert_allclose(after[16:], scale * f2 / (1 + prior) / (1 + c), rtol=1e-5, atol=1e-6)
    # a second item: the sum over 2 + prior, so the history speaks louder as it grows
    store.add_edges(WATCHED, [new_user], [c4], [T0 + 20_000_001], attr=[np.nan])
    two = emb.embed(store, USER, np.array([new_user]))[0]
    np.testing.assert_allclose(two[16:], scale * (f2 + f4) / (2 + prior) * 2 / (2 + c), rtol=1e-5, atol=1e-6)


def test_content_unknown_to_the_factors_gets_zero_slots(factor_model) -> None:
    ds, emb, _ = factor_model
    store = build_store(ds)
    (fresh,) = store.index(CONTENT, ["brand-new-clip"])
    vec = emb.embed(store, CONTENT, np.array([fresh]))[0]
    assert not vec[16:].any() and np.isfinite(vec).all()
