"""The KuaiRand ceiling diagnostic: its two measures, and one small run end to end."""

from __future__ import annotations

import numpy as np

from model import ceiling
from model.ceiling import in_period_auroc, kuairand_ceiling, own_rate_auroc, running_user_state
from streams.cli import main


def test_own_rate_ranks_by_the_users_other_rows() -> None:
    users = np.array([0, 0, 0, 1, 1, 1, 2])
    y = np.array([1, 1, 1, 0, 0, 0, 1], np.float32)
    # user 0's rows see rate 1, user 1's rate 0, the single-row user the overall mean
    assert own_rate_auroc(users, y) == 1.0
    # a row's own label is left out: a user with one positive among negatives ranks it lowest
    assert own_rate_auroc(np.zeros(4, np.int64), np.array([1, 0, 0, 0], np.float32)) == 0.0


def test_running_user_state_sees_only_earlier_rows() -> None:
    users = np.array([7, 3, 7, 7])
    ts = np.array([30, 10, 10, 20])
    y = np.array([1, 1, 0, 1], np.float32)
    got = running_user_state(users, ts, y)
    # user 7 in time order: row 2 (ts 10, y 0), row 3 (ts 20, y 1), row 0 (ts 30)
    np.testing.assert_array_equal(got[2], [0, np.nan, np.nan])
    np.testing.assert_array_equal(got[3], [1, 0.0, 0.0])
    np.testing.assert_array_equal(got[0], [2, 0.5, 1.0])
    np.testing.assert_array_equal(got[1], [0, np.nan, np.nan])


def test_in_period_auroc_finds_signal_and_no_signal() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.2).astype(np.float32)
    informative = np.column_stack([y + rng.normal(0, 0.5, len(y)), rng.normal(size=len(y))])
    noise = rng.normal(size=(len(y), 2))
    assert in_period_auroc(informative, y) > 0.9
    assert in_period_auroc(noise, y) < 0.6


def test_ceiling_on_kuairand_end_to_end(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ceiling, "LEAVES", (7,))
    out = kuairand_ceiling(work_dir=tmp_path, epochs=1, progress=False)
    rows = out["results"]
    assert len(rows) == 6 and out["test_exposures"][ceiling.ALL] == 8_606
    for label in ("long_view", "is_click"):
        auc = {name: r[ceiling.ALL][f"AUROC {label}"] for name, r in rows.items()}
        assert all(0.5 < a < 1.0 for a in auc.values()), auc
    assert (tmp_path / "kuairand-long_view.pt").exists()


def test_ceiling_is_refused_for_movielens(capsys) -> None:
    assert main(["evaluate", "--dataset", "movielens", "--ceiling"]) == 2
    assert "--dataset kuairand" in capsys.readouterr().err
