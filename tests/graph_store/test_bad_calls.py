"""Bad calls raise ValueErrors naming the field and the value, and leave the store untouched."""

from __future__ import annotations

import numpy as np
import pytest

from graph_store import GraphStore, sample
from graph_store.schema import CONTENT, LIKED, USER, WATCHED


@pytest.fixture
def g() -> GraphStore:
    store = GraphStore()
    store.index(USER, ["u0", "u1"])
    store.index(CONTENT, ["c0", "c1"])
    store.add_edges(LIKED, [0], [0], [5])
    store.take_dirty()
    return store


def _unchanged(g: GraphStore) -> None:
    assert g.num_edges() == 1 and g.max_ts == 5
    assert all(v.size == 0 for v in g.take_dirty().values())
    assert g.trending(5)[0].tolist() == [0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"src": [0, 1], "dst": [1], "ts": [1, 2]}, r"src=2, dst=1, ts=2"),
        ({"src": [0, 1], "dst": [1, 0], "ts": [1.0, 2.0]}, r"ts must have an integer dtype, got float64"),
        ({"src": [0, 1], "dst": [1, 7], "ts": [1, 2]}, r"dst\[1\] = 7 is not a known content index"),
        ({"src": [-1], "dst": [1], "ts": [1]}, r"src\[0\] = -1 is not a known user index"),
        ({"src": [0], "dst": [1], "ts": [-3]}, r"ts\[0\] = -3 is negative"),
        ({"src": [0], "dst": [1], "ts": [1], "attr": [0.5]}, r"attr must be None for edge type user-liked-content"),
        ({"src": [0.0], "dst": [1], "ts": [1]}, r"src must have an integer dtype"),
    ],
)
def test_add_edges_rejects_bad_batches(g: GraphStore, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        g.add_edges(LIKED, **kwargs)
    _unchanged(g)


def test_attr_rules(g: GraphStore) -> None:
    with pytest.raises(ValueError, match=r"attr \(completion_pct\) is required"):
        g.add_edges(WATCHED, [0], [1], [1])
    with pytest.raises(ValueError, match=r"attr \(completion_pct\) has 1 rows but 2"):
        g.add_edges(WATCHED, [0, 1], [1, 1], [1, 2], attr=[0.5])
    with pytest.raises(ValueError, match=r"attr \(completion_pct\) must be numeric"):
        g.add_edges(WATCHED, [0], [1], [1], attr=["x"])
    _unchanged(g)


def test_unknown_types(g: GraphStore) -> None:
    with pytest.raises(ValueError, match=r"unknown node type 'movie'"):
        g.index("movie", ["m"])
    with pytest.raises(ValueError, match=r"unknown edge type \('user', 'rated', 'content'\)"):
        g.add_edges(("user", "rated", "content"), [0], [0], [1])
    with pytest.raises(ValueError, match=r"unknown edge type"):
        g.neighbors(("user", "rev_liked", "content"), 0)
    with pytest.raises(ValueError, match=r"unknown content feature column 'genre'"):
        g.features(CONTENT, "genre")
    _unchanged(g)


def test_bad_indices_and_ids(g: GraphStore) -> None:
    with pytest.raises(ValueError, match=r"idx\[1\] = 5 is not a known user index"):
        g.external(USER, np.array([0, 5]))
    with pytest.raises(ValueError, match=r"node\[0\] = 9 is not a known user index"):
        g.neighbors(LIKED, 9)
    with pytest.raises(ValueError, match=r"user external id \[1\] = 1.5 is neither str nor int"):
        g.index(USER, ["a", 1.5])
    assert g.num_nodes(USER) == 2
    with pytest.raises(ValueError, match=r"content feature 'duration' has 1 rows but 2"):
        g.set_features(CONTENT, np.array([0, 1]), genre=np.ones(2), duration=np.ones(1))
    assert g.feature_columns(CONTENT) == []  # nothing half-applied
    _unchanged(g)


def test_bad_sample_calls(g: GraphStore) -> None:
    with pytest.raises(ValueError, match=r"seeds\['user'\] contains duplicate"):
        sample(g, {USER: np.array([0, 0])}, [2])
    with pytest.raises(ValueError, match=r"seeds\['user'\]\[0\] = 4 is not a known user index"):
        sample(g, {USER: np.array([4])}, [2])
    with pytest.raises(ValueError, match=r"strategy must be 'recent' or 'uniform', got 'newest'"):
        sample(g, {USER: np.array([0])}, [2], strategy="newest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"edge_types entry \('user', 'x', 'content'\)"):
        sample(g, {USER: np.array([0])}, [2], edge_types=[("user", "x", "content")])
    _unchanged(g)
