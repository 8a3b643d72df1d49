"""Temporal neighbour sampling into a PyG-ready ``Subgraph``; one sampler for training and serving."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from graph_store import selection
from graph_store._arrays import as_node_index
from graph_store.schema import EDGE_ATTR, MESSAGE_EDGE_TYPES, NODE_TYPES, EdgeType, check_node_type, reverse
from graph_store.timed import TimedIndex

if TYPE_CHECKING:
    import torch
    from torch_geometric.data import HeteroData

    from graph_store.store import GraphStore


@dataclass
class Subgraph:
    """A sampled neighbourhood with local node ids, ready for PyG.

    Attributes:
        node_ids: per node type, the GLOBAL dense ids of the local nodes; seeds first, in the
            order given. Shapes: [n_t] int64.
        num_seeds: per node type, how many of ``node_ids`` are seeds.
        edge_index: per message relation with edges, LOCAL ids; row 0 = message source,
            row 1 = message target. Shapes: [2, E] int64.
        edge_attr: the edge attribute for relations that carry one. Shapes: [E] float32.
        edge_time: edge timestamps in epoch ms. Shapes: [E] int64.
    """

    node_ids: dict[str, np.ndarray]
    num_seeds: dict[str, int]
    edge_index: dict[EdgeType, torch.Tensor] = field(default_factory=dict)
    edge_attr: dict[EdgeType, torch.Tensor] = field(default_factory=dict)
    edge_time: dict[EdgeType, torch.Tensor] = field(default_factory=dict)

    def to_hetero_data(self, x: dict[str, torch.Tensor] | None = None) -> HeteroData:
        """A ``HeteroData`` with ``n_id``, ``num_nodes`` and ``batch_size`` (seeds) per node type.

        Args:
            x: optional features per node type for the LOCAL nodes. Shapes: [n_t, F].
        """
        import torch
        from torch_geometric.data import HeteroData

        data = HeteroData()
        for nt, ids in self.node_ids.items():
            store = data[nt]
            store.num_nodes = int(ids.shape[0])
            store.n_id = torch.from_numpy(ids)
            store.batch_size = int(self.num_seeds.get(nt, 0))
            if x is not None and nt in x:
                if int(x[nt].shape[0]) != ids.shape[0]:
                    rows = int(x[nt].shape[0])
                    raise ValueError(f"x[{nt!r}] has {rows} rows but the subgraph has {ids.shape[0]} {nt} nodes")
                store.x = x[nt]
        for et, ei in self.edge_index.items():
            data[et].edge_index = ei
            data[et].edge_time = self.edge_time[et]
            if et in self.edge_attr:
                data[et].edge_attr = self.edge_attr[et]
        return data


class _LazyLocal(dict):
    """Per node type ``_LocalIds``, created on first use."""

    def __init__(self, store: GraphStore) -> None:
        super().__init__()
        self._store = store

    def __missing__(self, node_type: str) -> _LocalIds:
        ids = self[node_type] = _LocalIds(self._store.num_nodes(node_type))
        return ids


class _LocalIds:
    """Global -> local id map of one node type, built up hop by hop (int32: half the cache)."""

    def __init__(self, num_nodes: int) -> None:
        self.local = np.full(num_nodes, -1, dtype=np.int32)
        self.parts: list[np.ndarray] = []
        self.count = 0

    def add(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local ids of ``nodes``, giving new ones to nodes not yet present (duplicates once).

        Returns (local ids of all ``nodes`` as int32, the newly added nodes in order).
        """
        nodes = nodes.astype(np.intp, copy=False)  # int32 indices cost a conversion per use
        loc = self.local[nodes]
        miss = loc < 0
        if not miss.any():
            return loc, nodes[:0]
        cand = nodes[miss]
        marks = np.arange(-2, -2 - cand.shape[0], -1, dtype=np.int32)
        self.local[cand] = marks
        new = cand[self.local[cand] == marks]  # one winner per distinct node
        self.local[new] = np.arange(self.count, self.count + new.shape[0], dtype=np.int32)
        self.count += new.shape[0]
        self.parts.append(new)
        loc[miss] = self.local[cand]
        return loc, new

    def add_copies(self, nodes: np.ndarray) -> np.ndarray:
        """Fresh local ids for every entry of ``nodes`` (repeats allowed), not registered in
        the global -> local map: a timed seed is its node as of its own time."""
        loc = np.arange(self.count, self.count + nodes.shape[0], dtype=np.int32)
        self.count += nodes.shape[0]
        self.parts.append(nodes.astype(np.intp, copy=False))
        return loc


def sample(
    store: GraphStore,
    seeds: Mapping[str, np.ndarray],
    fanouts: Sequence[int],
    *,
    strategy: Literal["recent", "uniform"] = "recent",
    before: int | None = None,
    rng: np.random.Generator | None = None,
    edge_types: Sequence[EdgeType] | None = None,
    seed_times: Mapping[str, np.ndarray] | None = None,
) -> Subgraph:
    """Sample ``len(fanouts)`` hops of in-neighbours around ``seeds``.

    At each hop, every frontier node of type T takes, for every message relation (S, r, T), up
    to ``fanout`` in-neighbours (the most recent, or uniform without replacement; a negative
    fanout takes all), using only edges with ts < ``before`` when it is set. Nodes new to the
    subgraph form the next frontier.

    ``seed_times`` gives seeds of some types a time each (training on labels of their own
    time): such a seed is a node *as of that time*. Its first hop uses only edges with ts <
    its own time; repeats are allowed and each is its own local node (never merged with
    the same node reached later, which is seen as of ``before``). Later hops use
    ``before``, which must be set and at most every seed time, so nothing at or after a
    seed's time is visible anywhere in its neighbourhood.
    """
    if strategy not in ("recent", "uniform"):
        raise ValueError(f"strategy must be 'recent' or 'uniform', got {strategy!r}")
    rels = list(MESSAGE_EDGE_TYPES) if edge_types is None else [cast(EdgeType, tuple(e)) for e in edge_types]
    for et in rels:
        if et not in MESSAGE_EDGE_TYPES:
            raise ValueError(f"edge_types entry {et!r} is not a message relation of the schema")
    hops = [int(f) for f in fanouts]
    gen = rng if rng is not None else np.random.default_rng()
    with store._lock:
        local = _LazyLocal(store)
        frontier: dict[str, np.ndarray] = {}
        num_seeds: dict[str, int] = {}
        timed = _check_seed_times(seeds, seed_times or {}, before)
        timed_local: dict[str, np.ndarray] = {}
        for nt, ids in seeds.items():
            check_node_type(nt)
            v = as_node_index(ids, f"seeds[{nt!r}]", nt, store.num_nodes(nt))
            if nt in timed:
                timed_local[nt] = local[nt].add_copies(v)
            else:
                _, new = local[nt].add(v)
                if new.shape[0] != v.shape[0]:
                    raise ValueError(f"seeds[{nt!r}] contains duplicate node ids")
            frontier[nt], num_seeds[nt] = v, int(v.shape[0])
        found: dict[EdgeType, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]] = {}
        for hop, k in enumerate(hops):
            grown: dict[str, list[np.ndarray]] = {}
            for et in rels:
                src_t, _, dst_t = et
                targets = frontier.get(dst_t)
                if targets is None or targets.size == 0 or k == 0:
                    continue
                ring, out = store._relation(reverse(et))
                if hop == 0 and dst_t in timed:
                    got = _latest_per_seed(store, reverse(et), ring, out, targets, timed[dst_t], k, strategy, gen)
                    if got.eid.size == 0:
                        continue
                    row0, new = local[src_t].add(got.nbr)
                    grown.setdefault(src_t, []).append(new)
                    found.setdefault(et, []).append((row0, timed_local[dst_t][got.walker], got.ts, got.attr))
                    continue
                if strategy == "recent":
                    got = selection.recent(ring, out, targets, k, before)
                else:
                    w, e = selection.uniform(ring, out, targets, k, before, gen)
                    got = selection.picked(ring, out, w, e)
                if got.eid.size == 0:
                    continue
                row0, new = local[src_t].add(got.nbr)
                grown.setdefault(src_t, []).append(new)
                row1 = local[dst_t].local[targets][got.walker]
                found.setdefault(et, []).append((row0, row1, got.ts, got.attr))
            frontier = {nt: np.concatenate(parts) for nt, parts in grown.items()}
        return _assemble(local, num_seeds, found)


def _check_seed_times(seeds: Mapping[str, np.ndarray], seed_times: Mapping[str, np.ndarray],
                      before: int | None) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for nt, times in seed_times.items():
        if nt not in seeds:
            raise ValueError(f"seed_times has {nt!r}, which has no seeds")
        t = np.asarray(times, dtype=np.int64).reshape(-1)
        if t.shape[0] != np.asarray(seeds[nt]).reshape(-1).shape[0]:
            raise ValueError(f"seed_times[{nt!r}] has {t.shape[0]} times for {len(seeds[nt])} seeds")
        if t.size and (before is None or before > int(t.min())):
            raise ValueError(f"seed_times need before <= every seed time (before={before}, earliest {int(t.min())})")
        out[nt] = t
    return out


def _latest_per_seed(store: GraphStore, edge_type: EdgeType, ring, out: bool, nodes: np.ndarray,  # noqa: ANN001
                     times: np.ndarray, k: int, strategy: str, gen: np.random.Generator) -> selection.Picked:
    """Per seed, up to ``k`` edges with ts < its own time (newest, or uniform)."""
    index = store._timed_index(edge_type, ring, out, whole=True)
    assert isinstance(index, TimedIndex)
    if strategy == "recent" or k < 0:
        rows, eids = index.latest(nodes, times, k)
    else:
        rows, eids = index.latest(nodes, times, -1)
        if rows.size:  # k per seed uniformly without replacement: the k smallest random keys
            keep = selection.first_k(rows, np.lexsort((gen.random(int(rows.shape[0])), rows)), k)
            rows, eids = rows[keep], eids[keep]
    return selection.picked(ring, out, rows, eids)


def _assemble(local: dict[str, _LocalIds], num_seeds: dict[str, int], found: dict) -> Subgraph:
    import torch  # imported on first use: plain store users need not pay for torch

    node_ids = {
        nt: (np.concatenate(local[nt].parts) if len(local[nt].parts) > 1 else local[nt].parts[0]).astype(np.int64)
        for nt in NODE_TYPES
        if nt in local and local[nt].count
    }
    sub = Subgraph(node_ids=node_ids, num_seeds={nt: num_seeds.get(nt, 0) for nt in node_ids})
    for et, parts in found.items():
        index = np.empty((2, sum(p[0].shape[0] for p in parts)), dtype=np.int64)
        np.concatenate([p[0] for p in parts], out=index[0], casting="unsafe")
        np.concatenate([p[1] for p in parts], out=index[1], casting="unsafe")
        sub.edge_index[et] = torch.from_numpy(index)
        sub.edge_time[et] = torch.from_numpy(np.concatenate([p[2] for p in parts]))
        if et in EDGE_ATTR or reverse(et) in EDGE_ATTR:
            sub.edge_attr[et] = torch.from_numpy(np.concatenate([p[3] for p in parts]))
    return sub
