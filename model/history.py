"""Node features from an exposure log, as of a time: what a user or an item did before.

KuaiRand logs every shown video with its outcome. A flat-table model wins there mostly on
per-user and per-item engagement rates from that log (a strong user bias). The GNN gets
the same information as node inputs, computed strictly before the sampling time, so no
label can see itself or anything later. Online no exposure log exists; the columns then
encode as unknown (see ``FeatureEncoders.source``).

Columns per user, content and creator: ``exp_log_n`` (log1p of past exposures) and, per
label, ``exp_<label>_rate`` (NaN with no past exposure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from graph_store.schema import CONTENT, CREATOR, USER, NodeType
from graph_store.timed import first_not_before


class _Grouped:
    """Events grouped by row (CSR), time ascending, with running label sums."""

    def __init__(self, rows: np.ndarray, ts: np.ndarray, labels: np.ndarray, n_rows: int) -> None:
        order = np.lexsort((ts, rows))
        self.ts = ts[order]
        self.offsets = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=self.offsets[1:])
        self.cum = np.vstack([np.zeros((1, labels.shape[1])), np.cumsum(labels[order], axis=0)])

    def before(self, rows: np.ndarray, before: int | np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Count [n] and label sums [n, L] of each row's events with ts < ``before`` (one
        time, or one per row)."""
        ok = rows >= 0
        r = np.where(ok, rows, 0)
        start = np.where(ok, self.offsets[r], 0)
        stop = np.where(ok, self.offsets[r + 1], 0)
        cut = stop if before is None else first_not_before(self.ts, start, stop, before)
        return cut - start, self.cum[cut] - self.cum[start]


class ExposureHistory:
    """A :class:`~model.encoders.TimedSource` over an exposure log.

    Args:
        user, content: external ids [n]; ts: int64 ms [n]; labels: name -> 0/1 [n];
        creator_of: content external id -> creator external id (for creator rates).
    """

    def __init__(self, user: np.ndarray, content: np.ndarray, ts: np.ndarray, labels: Mapping[str, np.ndarray],
                 creator_of: Mapping[str, str] | None = None) -> None:
        self.labels = list(labels)
        lab = np.column_stack([np.asarray(labels[k], np.float64) for k in self.labels])
        ts = np.asarray(ts, np.int64)
        creator_of = creator_of or {}
        keys = {
            USER: np.asarray(user, dtype=object),
            CONTENT: np.asarray(content, dtype=object),
            CREATOR: np.array([creator_of.get(c) for c in content.tolist()], dtype=object),
        }
        self._ids: dict[NodeType, dict[str, int]] = {}
        self._groups: dict[NodeType, _Grouped] = {}
        for t, k in keys.items():
            known = np.array([x is not None for x in k.tolist()], bool)
            ids = {s: i for i, s in enumerate(sorted({str(x) for x in k[known].tolist()}))}
            if not ids:
                continue
            rows = np.array([ids[str(x)] for x in k[known].tolist()], np.int64)
            self._ids[t] = ids
            self._groups[t] = _Grouped(rows, ts[known], lab[known], len(ids))
        self._row_cache: dict[tuple[int, NodeType], np.ndarray] = {}

    def columns(self, node_type: NodeType) -> list[str]:
        if node_type not in self._groups:
            return []
        return ["exp_log_n", *(f"exp_{k}_rate" for k in self.labels)]

    def _rows(self, store: Any, node_type: NodeType, idx: np.ndarray) -> np.ndarray:
        """This log's row of each store node (-1 if absent), cached per store and node count."""
        key = (id(store), node_type)
        n = store.num_nodes(node_type)
        table = self._row_cache.get(key)
        if table is None or len(table) != n:
            ids = self._ids[node_type]
            ext = store.external(node_type, np.arange(n, dtype=np.int64))
            table = np.array([ids.get(str(s), -1) for s in ext], np.int64)
            self._row_cache = {key: table, **{k: v for k, v in self._row_cache.items() if k[0] == id(store)}}
        return table[idx]

    def values(self, store: Any, node_type: NodeType, idx: np.ndarray,
               before: int | np.ndarray | None) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        if node_type not in self._groups:
            return np.zeros((len(idx), 0), np.float32)
        count, sums = self._groups[node_type].before(self._rows(store, node_type, idx), before)
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = np.where(count[:, None] > 0, sums / np.maximum(count, 1)[:, None], np.nan)
        return np.column_stack([np.log1p(count), rates]).astype(np.float32)
