"""The id vocabulary of the optional per-id embeddings, keyed by external id.

Dense node indices belong to one GraphStore: the online worker builds its own store from
events, so its indices differ from training's. The vocabulary therefore maps *external*
ids (``store.external``) to embedding rows. Row 0 of every table is the learned "unknown
id" vector: users and content that arrived after training (or were dropped from the
vocabulary) get it, and their vectors then come from features and neighbours as before.
The vocabulary is saved in the checkpoint as plain lists of str.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from graph_store.schema import CONTENT, USER, NodeType, check_node_type
from model.encoders import recency_relations

#: Node types that may have per-id embeddings.
ID_TYPES: tuple[NodeType, ...] = (USER, CONTENT)
UNKNOWN_ROW = 0


class IdVocabulary:
    """External id -> embedding row (1-based; row 0 = unknown), per node type."""

    def __init__(self, ids: Mapping[NodeType, Iterable[str]]) -> None:
        self.ids: dict[NodeType, list[str]] = {check_node_type(t): [str(s) for s in v] for t, v in ids.items()}
        self._rows = {t: {s: r for r, s in enumerate(v, start=1)} for t, v in self.ids.items()}
        for t, v in self.ids.items():
            if len(self._rows[t]) != len(v):
                raise ValueError(f"id vocabulary of {t!r} holds duplicate ids")

    def sizes(self) -> dict[NodeType, int]:
        """Embedding rows per node type, the unknown row included."""
        return {t: len(v) + 1 for t, v in self.ids.items()}

    def rows_of(self, node_type: NodeType, external_ids: Iterable[str]) -> np.ndarray:
        """Rows of ``external_ids`` (UNKNOWN_ROW where not in the vocabulary). Shapes: [n] int64."""
        rows = self._rows.get(node_type, {})
        return np.fromiter((rows.get(str(s), UNKNOWN_ROW) for s in external_ids), dtype=np.int64)

    def rows(self, store: Any, node_type: NodeType, idx: np.ndarray) -> np.ndarray:
        """Rows of the store's dense nodes ``idx``. Shapes: [n] -> [n] int64."""
        idx = np.asarray(idx, dtype=np.int64)
        if node_type not in self._rows or not len(idx):
            return np.zeros(len(idx), np.int64)
        return self.rows_of(node_type, store.external(node_type, idx))

    @classmethod
    def fit(cls, store: Any, *, min_degree: int = 1) -> IdVocabulary:
        """Users and content with at least ``min_degree`` interaction edges in ``store``."""
        ids: dict[NodeType, list[str]] = {}
        for t in ID_TYPES:
            n = store.num_nodes(t)
            idx = np.arange(n, dtype=np.int64)
            count = np.zeros(n, np.int64)
            for e in recency_relations(t):  # the interaction relations, either direction
                count += np.asarray(store.degree(e, idx, None), dtype=np.int64)
            keep = idx[count >= min_degree]
            ids[t] = [str(s) for s in store.external(t, keep)] if len(keep) else []
        return cls(ids)

    def state(self) -> dict[str, list[str]]:
        return {t: list(v) for t, v in self.ids.items()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> IdVocabulary:
        return cls({t: list(v) for t, v in state.items()})
