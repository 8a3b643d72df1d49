"""The model on tiny hand-built graphs: shapes, every node type updated, gates used."""

from __future__ import annotations

import torch

from graph_store.schema import CONTENT, CREATED_BY, CREATOR, HAS_TAG, LIKED, NODE_TYPES, TAG, USER, WATCHED, reverse
from model.sage import HeteroSAGE, score


def _model(**kw) -> HeteroSAGE:
    torch.manual_seed(0)
    return HeteroSAGE({USER: 3, CONTENT: 2, CREATOR: 0, TAG: 1}, hash_buckets={TAG: 8}, hidden=16, dim=8, **kw).eval()


def _inputs(n_user: int = 2, n_content: int = 3, n_creator: int = 1, n_tag: int = 2):
    g = torch.Generator().manual_seed(1)
    return {
        USER: torch.randn(n_user, 3, generator=g),
        CONTENT: torch.randn(n_content, 2, generator=g),
        CREATOR: torch.zeros(n_creator, 0),
        TAG: torch.randn(n_tag, 1, generator=g),
    }


def test_every_node_type_gets_a_vector_of_dim() -> None:
    model = _model()
    edges = {
        WATCHED: torch.tensor([[0, 1], [0, 2]]),
        reverse(WATCHED): torch.tensor([[0, 2], [0, 1]]),
        CREATED_BY: torch.tensor([[0], [0]]),
        HAS_TAG: torch.tensor([[1], [1]]),
    }
    out = model(_inputs(), edges, {}, {TAG: torch.tensor([3, 5])})
    assert {t: tuple(v.shape) for t, v in out.items()} == {USER: (2, 8), CONTENT: (3, 8), CREATOR: (1, 8), TAG: (2, 8)}
    assert all(torch.isfinite(v).all() for v in out.values())
    # bias slots: user [.., b_u, 1], content [.., 1, b_c]
    assert torch.all(out[USER][:, -1] == 1) and torch.all(out[CONTENT][:, -2] == 1)


def test_node_type_with_only_incoming_reverse_edges_receives_messages() -> None:
    # users are only ever targets of rev_watched here; their vectors must depend on content
    model = _model()
    x = _inputs()
    edges = {reverse(WATCHED): torch.tensor([[0, 1], [0, 1]])}
    base = model(x, edges)[USER]
    x2 = {**x, CONTENT: x[CONTENT] + 5.0}
    moved = model(x2, edges)[USER]
    assert not torch.allclose(base[:2], moved[:2])
    # a node type without any edge still gets its (root-path) vector
    assert model(x, {})[CREATOR].shape == (1, 8)


def test_completion_gate_changes_the_message() -> None:
    model = _model()
    with torch.no_grad():  # a trained gate: completion matters
        model.gates["__".join(reverse(WATCHED))].slope.fill_(4.0)
    x = _inputs()
    edges = {reverse(WATCHED): torch.tensor([[0, 1], [0, 0]])}
    full = model(x, edges, {reverse(WATCHED): torch.tensor([100.0, 100.0])})[USER][0]
    half = model(x, edges, {reverse(WATCHED): torch.tensor([100.0, 5.0])})[USER][0]
    unknown = model(x, edges, {reverse(WATCHED): torch.tensor([100.0, float("nan")])})[USER][0]
    assert not torch.allclose(full, half)
    assert torch.isfinite(unknown).all()


def test_score_is_a_row_wise_dot_product() -> None:
    u = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    c = torch.tensor([[3.0, 4.0], [5.0, 6.0]])
    assert score(u, c).tolist() == [11.0, 6.0]


def test_gradients_reach_every_node_types_input() -> None:
    model = _model().train()
    edges = {
        WATCHED: torch.tensor([[0], [0]]), reverse(WATCHED): torch.tensor([[0], [0]]),
        CREATED_BY: torch.tensor([[0], [0]]), reverse(CREATED_BY): torch.tensor([[0], [0]]),
        HAS_TAG: torch.tensor([[0], [0]]), reverse(HAS_TAG): torch.tensor([[0], [0]]),
    }
    out = model(_inputs(1, 1, 1, 1), edges, {}, {TAG: torch.tensor([0])})
    score(out[USER], out[CONTENT]).sum().backward()
    for t in (USER, CONTENT, TAG):
        assert model.input[t].weight.grad is not None and model.input[t].weight.grad.abs().sum() > 0, t
    assert set(NODE_TYPES) == set(out)


def test_users_with_few_interactions_are_pulled_towards_the_prior() -> None:
    model = _model(user_prior=1.0)  # dim 8: six body slots, b_u, the constant 1
    assert model.config()["user_prior"] == 1.0
    with torch.no_grad():
        model.prior_vec.fill_(2.0)
    own = torch.full((3, 8), 4.0)
    own[:, 7] = 1.0
    # user 0 has no interaction in the sample, user 1 one, user 2 three (watches and likes)
    edges = {reverse(WATCHED): torch.tensor([[0, 1, 2], [1, 2, 2]]), reverse(LIKED):
             torch.tensor([[0], [2]]), reverse(HAS_TAG): torch.tensor([[0, 0], [0, 1]])}
    out = model._shrunk_users(own, edges)
    assert out[:, :7].tolist() == [[2.0] * 7, [3.0] * 7, [3.5] * 7]  # prior + n / (n + 1) * (own - prior)
    assert out[:, 7].tolist() == [1.0, 1.0, 1.0]
    # a blank user's vector is the prior, whatever its inputs
    x = _inputs(n_user=2)
    x[USER][1] = -x[USER][0]
    with torch.no_grad():
        vec = model(x, {reverse(WATCHED): torch.tensor([[0], [1]])}, {reverse(WATCHED): torch.tensor([50.0])})[USER]
    assert torch.equal(vec[0, :7], model.prior_vec.detach()) and not torch.equal(vec[1, :7], vec[0, :7])
