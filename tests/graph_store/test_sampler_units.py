"""A 4-node graph whose samples are checked by eye, plus the PyG conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graph_store import GraphStore, Subgraph, sample
from graph_store.schema import CONTENT, LIKED, USER, WATCHED, reverse

U0, U1, C0, C1 = 0, 1, 0, 1
REV_WATCHED = reverse(WATCHED)


@pytest.fixture
def g() -> GraphStore:
    """u0 watched c0@1 and c1@2; u1 watched c1@3; u1 liked c0@4."""
    store = GraphStore()
    store.index(USER, ["u0", "u1"])
    store.index(CONTENT, ["c0", "c1"])
    store.add_edges(WATCHED, [U0, U0, U1], [C0, C1, C1], [1, 2, 3], attr=[0.1, 0.2, 0.3])
    store.add_edges(LIKED, [U1], [C0], [4])
    return store


def _edges(sub: Subgraph, et: tuple[str, str, str]) -> set[tuple[int, int, int]]:
    """(global message source, global message target, ts) triples of one relation."""
    if et not in sub.edge_index:
        return set()
    ei, t = sub.edge_index[et].numpy(), sub.edge_time[et].numpy()
    src = sub.node_ids[et[0]][ei[0]]
    dst = sub.node_ids[et[2]][ei[1]]
    return set(zip(src.tolist(), dst.tolist(), t.tolist()))


def test_two_hops_most_recent(g: GraphStore) -> None:
    sub = sample(g, {USER: np.array([U0])}, [2, 2], edge_types=[WATCHED, REV_WATCHED])
    assert sub.node_ids[USER].tolist() == [U0, U1]
    assert sub.node_ids[CONTENT].tolist() == [C1, C0]  # discovered most recent first
    assert sub.num_seeds == {USER: 1, CONTENT: 0}
    assert _edges(sub, REV_WATCHED) == {(C1, U0, 2), (C0, U0, 1)}
    assert _edges(sub, WATCHED) == {(U1, C1, 3), (U0, C1, 2), (U0, C0, 1)}
    assert sub.edge_attr[WATCHED].dtype == torch.float32
    order = np.argsort(sub.edge_time[WATCHED].numpy())
    assert np.allclose(sub.edge_attr[WATCHED].numpy()[order], [0.1, 0.2, 0.3])
    assert sub.edge_index[WATCHED].dtype == torch.int64


def test_fanout_one_and_time_cutoff(g: GraphStore) -> None:
    sub = sample(g, {USER: np.array([U0])}, [1, 1], edge_types=[WATCHED, REV_WATCHED])
    assert _edges(sub, REV_WATCHED) == {(C1, U0, 2)}
    assert _edges(sub, WATCHED) == {(U1, C1, 3)}
    sub = sample(g, {USER: np.array([U0])}, [2, 2], before=3, edge_types=[WATCHED, REV_WATCHED])
    assert sub.node_ids[USER].tolist() == [U0]
    assert _edges(sub, WATCHED) == {(U0, C1, 2), (U0, C0, 1)}


def test_all_relations_and_seeds_of_two_types(g: GraphStore) -> None:
    sub = sample(g, {USER: np.array([U0]), CONTENT: np.array([C0])}, [5])
    assert sub.num_seeds == {USER: 1, CONTENT: 1}
    assert sub.node_ids[CONTENT].tolist() == [C0, C1]
    assert _edges(sub, REV_WATCHED) == {(C1, U0, 2), (C0, U0, 1)}
    assert _edges(sub, WATCHED) == {(U0, C0, 1)}
    assert _edges(sub, LIKED) == {(U1, C0, 4)}
    assert set(sub.edge_index) == {REV_WATCHED, WATCHED, LIKED}
    assert LIKED not in sub.edge_attr and reverse(LIKED) not in sub.edge_time


def test_uniform_takes_everything_when_fanout_is_large(g: GraphStore) -> None:
    sub = sample(g, {USER: np.array([U0])}, [9, 9], strategy="uniform", rng=np.random.default_rng(0))
    assert _edges(sub, WATCHED) == {(U1, C1, 3), (U0, C1, 2), (U0, C0, 1)}
    assert _edges(sub, LIKED) == {(U1, C0, 4)}


def test_zero_hops_and_unconnected_seed(g: GraphStore) -> None:
    g.index(USER, ["lonely"])
    sub = sample(g, {USER: np.array([2, U0])}, [])
    assert list(sub.node_ids) == [USER] and sub.node_ids[USER].tolist() == [2, U0]
    assert sub.edge_index == {}


def test_to_hetero_data(g: GraphStore) -> None:
    sub = sample(g, {USER: np.array([U0])}, [2, 2])
    x = {USER: torch.zeros(len(sub.node_ids[USER]), 4)}
    data = sub.to_hetero_data(x)
    assert data[USER].x.shape == (2, 4)
    assert data[USER].batch_size == 1
    assert data[CONTENT].n_id.tolist() == sub.node_ids[CONTENT].tolist()
    assert data[WATCHED].edge_index.shape[0] == 2
    assert data[WATCHED].edge_attr.shape == data[WATCHED].edge_time.shape
    with pytest.raises(ValueError, match=r"x\['user'\] has 3 rows but the subgraph has 2 user nodes"):
        sub.to_hetero_data({USER: torch.zeros(3, 4)})
