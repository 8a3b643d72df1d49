"""The content index: FAISS inner-product search over content vectors, updated in place.

Content ids are external strings; FAISS wants int64 labels, so the index keeps the map.
An upsert of a known id replaces its vector (``remove_ids`` then ``add_with_ids``).
Exact search (``IndexFlatIP``) is the right tool up to a few hundred thousand items on
this scale of catalog; an IVF or HNSW variant would slot in behind the same class.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import cast

import faiss
import numpy as np


def set_search_threads(threads: int) -> None:
    """FAISS's OpenMP threads, process-wide; torch uses the same OpenMP pool, so this sets
    its intra-op threads too where both are loaded. One query at a time gains nothing from
    more: on 2 busy cores, 2 threads gave p99 12 ms against 0.23 ms with 1
    (``benchmarks/serving_bench.py``), the threads spinning against other work."""
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    faiss.omp_set_num_threads(threads)


class ContentIndex:
    """Thread-safe inner-product index of content vectors keyed by external id."""

    def __init__(self, dim: int) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._label: dict[str, int] = {}
        self._ids: list[str] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace vectors. Shapes: ``vectors`` is ``[len(ids), dim]``."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape != (len(ids), self.dim):
            raise ValueError(f"vectors have shape {vectors.shape}; expected ({len(ids)}, {self.dim})")
        if len(ids) == 0:
            return
        # The last vector wins when an id repeats within the batch.
        last = {content_id: i for i, content_id in enumerate(ids)}
        rows = np.fromiter(last.values(), np.int64, len(last))
        with self._lock:
            labels = np.empty(len(last), np.int64)
            for j, content_id in enumerate(last):
                label = self._label.get(content_id)
                if label is None:
                    label = len(self._ids)
                    self._label[content_id] = label
                    self._ids.append(content_id)
                labels[j] = label
            self._index.remove_ids(labels)  # type: ignore[arg-type]  # faiss's Python wrapper takes an id array too
            self._index.add_with_ids(vectors[rows], labels)

    def vector(self, content_id: str) -> np.ndarray | None:
        with self._lock:
            label = self._label.get(content_id)
            if label is None:
                return None
            # without an output buffer faiss allocates an ndarray (torch only if faiss.contrib.torch_utils is loaded)
            return cast(np.ndarray, self._index.reconstruct(label))

    def search(self, query: np.ndarray, k: int, exclude: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
        """Top ``k`` content ids by inner product with ``query`` (``[dim]``), skipping ``exclude``."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if query.shape[1] != self.dim:
            raise ValueError(f"query has dim {query.shape[1]}; the index has {self.dim}")
        with self._lock:
            total = int(self._index.ntotal)
            if total == 0 or k <= 0:
                return []
            want = min(total, k + len(exclude))
            scores, labels = self._index.search(query, want)
            out: list[tuple[str, float]] = []
            for score, label in zip(scores[0], labels[0]):
                if label < 0:
                    break
                content_id = self._ids[label]
                if content_id in exclude:
                    continue
                out.append((content_id, float(score)))
                if len(out) == k:
                    break
            return out
