"""Small array helpers shared by the graph store: capacity growth and argument checks."""

from __future__ import annotations

from typing import Any

import numpy as np


def grow(arr: np.ndarray, n: int, fill: Any) -> np.ndarray:
    """Return ``arr`` or a copy with room for at least ``n`` rows; new rows hold ``fill``.

    Capacity doubles so that repeated growth costs O(1) amortised per row.

    Shapes:
        arr: [cap, *rest] -> [cap' >= n, *rest]
    """
    cap = arr.shape[0]
    if n <= cap:
        return arr
    new_cap = max(n, 2 * cap, 16)
    out = np.empty((new_cap,) + arr.shape[1:], dtype=arr.dtype)
    out[:cap] = arr
    out[cap:] = fill
    return out


def as_int_array(values: Any, field: str) -> np.ndarray:
    """``values`` as a 1-D int64 array; rejects float, bool and non-numeric dtypes by name.

    Shapes:
        values: [n] -> [n]
    """
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{field} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{field} must have an integer dtype, got {arr.dtype} (first value {arr[0]!r})")
    if arr.dtype == np.uint64 and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{field} value {int(arr.max())} does not fit in int64")
    return arr.astype(np.int64, copy=False)


def as_node_index(values: Any, field: str, node_type: str, num_nodes: int) -> np.ndarray:
    """``values`` as int64 dense node indices, each in ``[0, num_nodes)``.

    Shapes:
        values: [n] -> [n]
    """
    arr = as_int_array(values, field)
    if arr.size:
        bad = (arr < 0) | (arr >= num_nodes)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{field}[{i}] = {int(arr[i])} is not a known {node_type} index "
                f"(the store has {num_nodes} {node_type} nodes)"
            )
    return arr


def as_float_array(values: Any, field: str, n: int) -> np.ndarray:
    """``values`` as a float32 array whose first dimension is ``n``; rejects non-numeric dtypes.

    Shapes:
        values: [n, *rest] -> [n, *rest]
    """
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{field} must be numeric, got dtype {arr.dtype}")
    if arr.shape[0] != n:
        raise ValueError(f"{field} has {arr.shape[0]} rows but {n} were expected")
    return arr.astype(np.float32, copy=False)


def ranks_below(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each c in ``counts``, concatenated."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
