"""Trending content: an exponentially decayed count of interactions per content node."""

from __future__ import annotations

import numpy as np

from graph_store._arrays import grow

_REBASE_HALF_LIVES = 256.0  # keep exponents far from float64 overflow


class Trending:
    """Per-content score ``sum_i 2 ** ((ts_i - now) / half_life)`` over interaction events.

    Scores are stored relative to a reference time ``ref`` so that adding an event is one
    ``np.add.at``; out-of-order events are fine. The value at ``now`` is the number of
    interactions weighted by their age, i.e. rate x half_life / ln 2 for a steady rate.
    """

    def __init__(self, half_life_ms: int) -> None:
        if half_life_ms <= 0:
            raise ValueError(f"trending_half_life_ms must be > 0, got {half_life_ms}")
        self.half_life = float(half_life_ms)
        self.ref: int | None = None
        self.score = np.zeros(0, dtype=np.float64)

    def resize(self, num_content: int) -> None:
        """Room for ``num_content`` content nodes."""
        self.score = grow(self.score, num_content, 0.0)

    def add(self, content: np.ndarray, ts: np.ndarray) -> None:
        """Count one interaction per (content[i], ts[i]). Shapes: [n], [n] int64."""
        if content.size == 0:
            return
        newest = int(ts.max())
        if self.ref is None:
            self.ref = newest
        elif (newest - self.ref) / self.half_life > _REBASE_HALF_LIVES:
            self.score *= np.exp2((self.ref - newest) / self.half_life)
            self.ref = newest
        np.add.at(self.score, content, np.exp2((ts - self.ref) / self.half_life))

    def top(self, k: int, now_ms: int, num_content: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` highest-scoring content nodes (score > 0) and their scores at ``now_ms``.

        Shapes: -> idx [<=k] int64, score [<=k] float64, descending.
        """
        if self.ref is None or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        s = self.score[:num_content]
        k = min(k, s.shape[0])
        part = np.argpartition(-s, k - 1)[:k] if k < s.shape[0] else np.arange(s.shape[0])
        part = part[np.lexsort((part, -s[part]))]
        part = part[s[part] > 0]
        factor = np.exp2(min((self.ref - now_ms) / self.half_life, 1000.0))
        return part.astype(np.int64), s[part] * factor

    def state(self, num_content: int) -> dict[str, np.ndarray]:
        """Arrays for a snapshot."""
        ref = -1 if self.ref is None else self.ref
        return {"score": self.score[:num_content].copy(), "ref": np.array([ref], dtype=np.int64)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore from ``state()`` output."""
        self.score = np.array(state["score"], dtype=np.float64)
        ref = int(state["ref"][0])
        self.ref = None if ref < 0 else ref
