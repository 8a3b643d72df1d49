"""Collaborative input factors: implicit-ALS vectors of users and content, fixed inputs of the GNN.

An inductive GNN without per-node parameters knows a content item only by its features,
degrees and sampled neighbours; on MovieLens (no content features but genres) that is
little more than "how popular, how recent, which genres". Matrix factorisation's strength
is the opposite: it memorises who co-watched what. These factors give the GNN that memory
as *fixed input features*, keyed by external id like :mod:`model.vocab` rows:

- They are fitted by implicit ALS on interactions before a time ``t0`` and never trained
  by gradient, so they cannot overfit the GNN's labels. Training uses them only for
  labels at or after ``t0`` (labels before ``t0`` see every node as "unknown"), so no
  label is scored with factors that already encode it.
- The checkpoint's factors are refitted on all training interactions and rotated onto the
  first fit's basis (orthogonal Procrustes over the ids both fits know): ALS is defined up
  to a rotation and the GNN's projection was learned on the first basis.
- Nodes without a factor (new users, new content, anything after training) get row 0,
  which is zero: their vectors come from features and neighbours as before, so cold
  start is unchanged.
- Besides feeding the input layer, the factors give the output vectors extra slots
  (``HeteroSAGE(factor_skip=True)``): content carries its factor, a user the learned
  scale times the mean factor of the content it interacted with in its sampled
  neighbourhood. That fold-in of the user's *recent* items is fresh: a user's newest
  watch moves the user's vector at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graph_store.schema import CONTENT, USER, NodeType
from model.vocab import IdVocabulary


@dataclass
class Factors:
    """External ids and their factor rows per node type (``vectors[t][k]`` is ``ids[t][k]``'s)."""

    ids: dict[NodeType, list[str]]
    vectors: dict[NodeType, np.ndarray]  # float32 [len(ids[t]), dim]

    @property
    def dim(self) -> int:
        return int(next(iter(self.vectors.values())).shape[1])

    def vocabulary(self) -> IdVocabulary:
        return IdVocabulary(self.ids)

    def tables(self) -> dict[NodeType, np.ndarray]:
        """Embedding tables in vocabulary row order: row 0 (unknown) is zero."""
        return {t: np.vstack([np.zeros((1, v.shape[1]), np.float32), v]) for t, v in self.vectors.items()}


def fit_factors(users: np.ndarray, items: np.ndarray, weights: np.ndarray, *, dim: int = 32,
                regularization: float = 0.05, iterations: int = 15, alpha: float = 10.0, seed: int = 0) -> Factors:
    """Implicit ALS on (user, item, weight) triples of external ids. Shapes: [n] each.

    Each side is scaled to unit standard deviation (implicit ALS puts most of the scale on
    the user side); ``user . item`` stays proportional to ALS's score.
    """
    from implicit.als import AlternatingLeastSquares

    if len(users) == 0:
        raise ValueError("no interactions to fit factors on")
    u_ids, u = np.unique(np.asarray(users).astype(str), return_inverse=True)
    i_ids, i = np.unique(np.asarray(items).astype(str), return_inverse=True)
    matrix = sp.csr_matrix((np.asarray(weights, np.float32), (u, i)), shape=(len(u_ids), len(i_ids)))
    matrix.sum_duplicates()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit runs its own threads; a BLAS pool beside them only contends
        model = AlternatingLeastSquares(factors=dim, regularization=regularization, iterations=iterations,
                                        alpha=alpha, random_state=seed)
        model.fit(matrix, show_progress=False)
    uf = np.asarray(model.user_factors, np.float32)
    vf = np.asarray(model.item_factors, np.float32)
    uf /= max(float(uf.std()), 1e-12)
    vf /= max(float(vf.std()), 1e-12)
    return Factors({USER: [str(x) for x in u_ids], CONTENT: [str(x) for x in i_ids]},
                   {USER: uf, CONTENT: vf})


def align(new: Factors, reference: Factors) -> Factors:
    """``new`` rotated onto ``reference``'s basis (orthogonal Procrustes on shared ids).

    Implicit ALS's objective is invariant under a rotation of both sides, so two fits of
    overlapping data differ mostly by one; rotating keeps ``user . item`` unchanged.
    """
    if new.dim != reference.dim:
        raise ValueError(f"factor dims differ: {new.dim} vs {reference.dim}")
    a_rows, b_rows = [], []
    for t in new.vectors:
        pos = {s: k for k, s in enumerate(reference.ids.get(t, []))}
        pairs = [(k, pos[s]) for k, s in enumerate(new.ids[t]) if s in pos]
        if pairs:
            kn, kr = map(list, zip(*pairs, strict=True))
            a_rows.append(new.vectors[t][kn])
            b_rows.append(reference.vectors[t][kr])
    if not a_rows:
        return new
    a, b = np.vstack(a_rows).astype(np.float64), np.vstack(b_rows).astype(np.float64)
    left, _, right = np.linalg.svd(a.T @ b)
    rotation = (left @ right).astype(np.float32)
    return Factors(new.ids, {t: v @ rotation for t, v in new.vectors.items()})

