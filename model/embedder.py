"""Running the model on a GraphStore: sampled neighbourhood -> encoded inputs -> vectors.

Training and online re-embedding both go through :func:`run_on_sample`, with the one
sampler of ``graph_store``, so the model sees at serving time the kind of neighbourhood
it was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import Tensor

from graph_store.sampler import sample
from graph_store.schema import NODE_TYPES, NodeType, check_node_type
from model.checkpoint import Checkpoint
from model.encoders import FeatureEncoders
from model.sage import HeteroSAGE
from model.vocab import UNKNOWN_ROW, IdVocabulary


def run_on_sample(
    model: HeteroSAGE,
    encoders: FeatureEncoders,
    store: Any,
    seeds: Mapping[NodeType, np.ndarray],
    *,
    fanouts: Sequence[int],
    strategy: str,
    before: int | None,
    rng: np.random.Generator,
    feature_dropout: float = 0.0,
    vocab: IdVocabulary | None = None,
    id_dropout: float = 0.0,
    seed_times: Mapping[NodeType, np.ndarray] | None = None,
) -> dict[NodeType, Tensor]:
    """Vectors of the seeds, in the given order: ``{type: [len(seeds[type]), dim]}``.

    Only edges strictly before ``before`` are sampled and counted in degrees. Seeds of a
    type in ``seed_times`` are taken as of their own time each (training labels: a user
    as they were just before the labelled event; ``before`` must not be later than any of
    those times). With a ``vocab`` (models with per-id embeddings), nodes are mapped to id
    rows by external id; ``id_dropout`` (training) replaces a known id by the unknown row
    at random.
    """
    timed = {t: np.asarray(v, dtype=np.int64) for t, v in (seed_times or {}).items() if len(seeds.get(t, ()))}
    # The sampler puts seeds first; duplicates of untimed seeds are collapsed here and
    # expanded after (a timed seed is its own node, repeats included).
    unique: dict[NodeType, np.ndarray] = {}
    inverse: dict[NodeType, np.ndarray] = {}
    for t, v in seeds.items():
        if not len(v):
            continue
        if t in timed:
            unique[t] = np.asarray(v, dtype=np.int64)
            inverse[t] = np.arange(len(v))
        else:
            unique[t], inverse[t] = np.unique(np.asarray(v, dtype=np.int64), return_inverse=True)
    # sample() rejects any strategy but "recent" and "uniform" with a ValueError
    sub = sample(store, seeds=unique, fanouts=list(fanouts), strategy=cast(Literal["recent", "uniform"], strategy),
                 before=before, rng=rng, seed_times=timed or None)
    node_ids = {t: np.asarray(sub.node_ids.get(t, np.empty(0, np.int64)), dtype=np.int64) for t in NODE_TYPES}
    node_times = {
        t: np.concatenate([times, np.full(len(node_ids[t]) - len(times), before, np.int64)])
        for t, times in timed.items()
    }
    x_np, buckets_np = encoders.encode(store, node_ids, before, feature_dropout=feature_dropout, rng=rng,
                                       node_times=node_times)
    x = {t: torch.from_numpy(v) for t, v in x_np.items()}
    buckets = {t: torch.from_numpy(v) for t, v in buckets_np.items()}
    edge_attr = {e: torch.as_tensor(a, dtype=torch.float32) for e, a in sub.edge_attr.items() if a is not None}
    ids: dict[NodeType, Tensor] | None = None
    if vocab is not None and model.ids:
        ids = {}
        for t in model.ids:
            rows = vocab.rows(store, t, node_ids[t])
            if id_dropout > 0:
                rows[rng.random(len(rows)) < id_dropout] = UNKNOWN_ROW
            ids[t] = torch.from_numpy(rows)
    out = model(x, sub.edge_index, edge_attr, buckets, ids)
    result = {t: out[t][torch.from_numpy(inv)] for t, inv in inverse.items()}
    for t, v in seeds.items():
        if not len(v):
            result[t] = out[t].new_zeros((0, model.dim)) if t in out else torch.zeros((0, model.dim))
    return result


class Embedder:
    """A loaded checkpoint that turns GraphStore nodes into vectors.

    Scores are dot products of a user vector and a content vector.
    """

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.encoders = checkpoint.encoders
        self.vocab = checkpoint.vocab
        self.version: str = checkpoint.version
        self.dim: int = checkpoint.model.dim
        self.strategy: str = str(checkpoint.sampling.get("strategy", "recent"))

    @classmethod
    def load(cls, path: Path | str) -> Embedder:
        """Load a checkpoint file (weights_only); raises CheckpointError on a mismatch."""
        return cls(Checkpoint.load(Path(path)))

    @torch.no_grad()
    def embed(
        self,
        store: Any,
        node_type: NodeType,
        idx: np.ndarray,
        *,
        fanouts: Sequence[int] = (10, 10),
        batch_size: int = 1024,
        before: int | None = None,
        seed: int = 0,
        times: np.ndarray | None = None,
    ) -> np.ndarray:
        """Vectors of nodes ``idx`` of ``node_type``: float32 ``[len(idx), dim]``.

        ``before`` hides edges at or after that time (offline evaluation); the default
        uses the whole graph. ``times`` ([len(idx)], each >= ``before``) takes every node as
        of its own time (its own edges before it; the rest of its neighbourhood before
        ``before``). Sampling is seeded, so equal graphs give equal vectors.
        """
        check_node_type(node_type)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        out = np.empty((len(idx), self.dim), dtype=np.float32)
        rng = np.random.default_rng(seed)
        for start in range(0, len(idx), batch_size):
            chunk = idx[start : start + batch_size]
            at = None if times is None else {node_type: np.asarray(times)[start : start + len(chunk)]}
            vec = run_on_sample(
                self.model, self.encoders, store, {node_type: chunk},
                fanouts=fanouts, strategy=self.strategy, before=before, rng=rng, vocab=self.vocab, seed_times=at,
            )[node_type]
            out[start : start + len(chunk)] = vec.numpy()
        return out
