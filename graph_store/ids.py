"""Id maps: external string ids <-> dense int64 indices, one map per node type."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def normalize_ids(external_ids: Any, node_type: str) -> list[str]:
    """External ids as a list of str. Ints are converted with ``str()``; a bare scalar is one id."""
    if isinstance(external_ids, (str, int, np.integer)) and not isinstance(external_ids, bool):
        external_ids = [external_ids]
    if isinstance(external_ids, np.ndarray):
        kind = external_ids.dtype.kind
        if kind == "U":
            return external_ids.ravel().tolist()
        if kind in "iu":
            return [str(x) for x in external_ids.ravel().tolist()]
        if kind != "O":
            raise ValueError(f"{node_type} external ids must be str or int, got dtype {external_ids.dtype}")
        external_ids = external_ids.ravel().tolist()
    if not isinstance(external_ids, Iterable):
        raise ValueError(f"{node_type} external ids must be an iterable of str or int, got {external_ids!r}")
    ids = external_ids if isinstance(external_ids, list) else list(external_ids)
    if all(type(x) is str for x in ids):
        return ids
    out: list[str] = []
    for i, x in enumerate(ids):
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
            out.append(str(int(x)))
        else:
            raise ValueError(f"{node_type} external id [{i}] = {x!r} is neither str nor int")
    return out


class IdMap:
    """Dense ids ``0..n-1`` for the external ids of one node type, in order of first sight."""

    def __init__(self, node_type: str, external: list[str] | None = None) -> None:
        self.node_type = node_type
        self._ext: list[str] = list(external) if external else []
        self._idx: dict[str, int] = {x: i for i, x in enumerate(self._ext)}
        if len(self._idx) != len(self._ext):
            raise ValueError(f"{node_type} id map has duplicate external ids")

    def __len__(self) -> int:
        return len(self._ext)

    def index(self, external_ids: Any) -> np.ndarray:
        """Indices of ``external_ids``, creating the ones not seen yet. Shapes: [n] -> [n] int64."""
        ids = normalize_ids(external_ids, self.node_type)
        get = self._idx.get
        out = np.fromiter((get(x, -1) for x in ids), dtype=np.int64, count=len(ids))
        missing = np.flatnonzero(out < 0)
        if missing.size:
            idx, ext = self._idx, self._ext
            for i in missing.tolist():
                x = ids[i]
                j = idx.get(x)
                if j is None:
                    j = len(ext)
                    idx[x] = j
                    ext.append(x)
                out[i] = j
        return out

    def lookup(self, external_ids: Any) -> np.ndarray:
        """Indices of ``external_ids``, -1 where unknown; never creates. Shapes: [n] -> [n] int64."""
        ids = normalize_ids(external_ids, self.node_type)
        get = self._idx.get
        return np.fromiter((get(x, -1) for x in ids), dtype=np.int64, count=len(ids))

    def external(self, idx: np.ndarray) -> list[str]:
        """External ids of dense indices ``idx`` (validated by the caller)."""
        ext = self._ext
        return [ext[i] for i in np.asarray(idx, dtype=np.int64).tolist()]

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All external ids as UTF-8 bytes and offsets, for snapshots. Shapes: [bytes] uint8, [n + 1] int64."""
        encoded = [x.encode() for x in self._ext]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets

    @classmethod
    def from_arrays(cls, node_type: str, data: np.ndarray, offsets: np.ndarray) -> IdMap:
        """Inverse of ``to_arrays``."""
        raw = data.tobytes()
        bounds = offsets.tolist()
        return cls(node_type, [raw[a:b].decode() for a, b in zip(bounds[:-1], bounds[1:])])
