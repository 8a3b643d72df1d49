"""Optional float32 feature columns for one node type; NaN means unknown."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from graph_store._arrays import as_float_array, grow


class FeatureTable:
    """Named float32 columns of shape [num_nodes] or [num_nodes, d], grown with the node count."""

    def __init__(self, node_type: str) -> None:
        self.node_type = node_type
        self.num_nodes = 0
        self._cols: dict[str, np.ndarray] = {}

    def resize(self, num_nodes: int) -> None:
        """Make room for ``num_nodes`` rows; rows of new nodes are NaN."""
        self.num_nodes = num_nodes
        for name, col in self._cols.items():
            self._cols[name] = grow(col, num_nodes, np.nan)

    def names(self) -> list[str]:
        """Column names in order of first use."""
        return list(self._cols)

    def set(self, idx: np.ndarray, columns: Mapping[str, object]) -> None:
        """Write ``columns[name][i]`` to row ``idx[i]``; validates every column before writing any.

        Shapes:
            idx: [n]; each column: [n] or [n, d] (d fixed by the first write of that column)
        """
        checked: dict[str, np.ndarray] = {}
        for name, values in columns.items():
            field = f"{self.node_type} feature {name!r}"
            arr = as_float_array(values, field, idx.shape[0])
            old = self._cols.get(name)
            if arr.ndim > 2:
                raise ValueError(f"{field} must be [n] or [n, d], got shape {arr.shape}")
            if old is not None and old.shape[1:] != arr.shape[1:]:
                raise ValueError(f"{field} has row shape {arr.shape[1:]}, but the column holds {old.shape[1:]}")
            checked[name] = arr
        for name, arr in checked.items():
            if name not in self._cols:
                col = np.full((max(self.num_nodes, 16),) + arr.shape[1:], np.nan, dtype=np.float32)
                self._cols[name] = col
            self._cols[name][idx] = arr

    def get(self, column: str, idx: np.ndarray | None) -> np.ndarray:
        """A copy of ``column`` for ``idx`` (all nodes when None). Shapes: [n] or [n, d]."""
        col = self._cols.get(column)
        if col is None:
            known = ", ".join(self._cols) or "none"
            raise ValueError(f"unknown {self.node_type} feature column {column!r}; known: {known}")
        if idx is None:
            return col[: self.num_nodes].copy()
        return col[idx]

    def state(self) -> dict[str, np.ndarray]:
        """Columns trimmed to ``num_nodes`` rows, for snapshots."""
        return {name: col[: self.num_nodes] for name, col in self._cols.items()}

    def load_state(self, num_nodes: int, cols: dict[str, np.ndarray]) -> None:
        """Replace the columns by ``cols`` (each with ``num_nodes`` rows)."""
        self.num_nodes = num_nodes
        self._cols = {name: np.array(col, dtype=np.float32) for name, col in cols.items()}
        self.resize(num_nodes)
