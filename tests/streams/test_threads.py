"""The worker's thread setting reaches both torch and FAISS (they share one OpenMP pool)."""

from __future__ import annotations

import faiss
import torch

from streams.runtime import build_worker, set_compute_threads
from streams.settings import Settings


def test_compute_threads_set_the_model_and_the_search() -> None:
    before = torch.get_num_threads()
    try:
        set_compute_threads(2, model=True)
        assert torch.get_num_threads() == 2 and faiss.omp_get_max_threads() == 2
        set_compute_threads(1, model=True)
        assert torch.get_num_threads() == 1 and faiss.omp_get_max_threads() == 1
        set_compute_threads(2, model=False)  # a serving replica: FAISS only
        assert faiss.omp_get_max_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_worker_takes_its_thread_setting(tmp_path) -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        build_worker(Settings(state_dir=tmp_path, compute_threads=1), serve=False)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
