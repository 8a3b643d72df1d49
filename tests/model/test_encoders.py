"""Feature encoders: known answers, missing features, plain-data state."""

from __future__ import annotations

import numpy as np

from graph_store.schema import CONTENT, CREATOR, TAG, USER, WATCHED, reverse
from model.encoders import ColumnStats, FeatureEncoders, degrees, stable_bucket


def test_column_stats_standardise_and_flag_unknowns() -> None:
    stats = ColumnStats.fit("d", np.array([1.0, 3.0, np.nan], np.float32))
    assert (stats.log, stats.center, stats.scale) == (False, 2.0, 1.0)
    z, missing = stats.transform(np.array([3.0, np.nan], np.float32))
    assert z.tolist() == [1.0, 0.0] and missing.tolist() == [0.0, 1.0]


def test_skewed_non_negative_column_is_logged() -> None:
    stats = ColumnStats.fit("followers", np.array([0, 1, 2, 1, 100_000], np.float32))
    assert stats.log


def test_encoders_handle_missing_and_absent_columns(tiny_store) -> None:
    enc = FeatureEncoders.fit(tiny_store, extra_features={USER: ["age_bucket"]})
    # content has duration_s (c2 unknown); users expect a column no node has
    x, buckets = enc.encode(tiny_store, {CONTENT: np.arange(4), USER: np.arange(3), TAG: np.arange(3)}, None)
    names = [s.name for s in enc.nodes[CONTENT].features]
    assert names == ["duration_s"]
    dur_value, dur_missing = x[CONTENT][:, 0], x[CONTENT][:, 1]
    assert dur_missing.tolist() == [0.0, 0.0, 1.0, 0.0] and dur_value[2] == 0.0
    assert np.all(x[USER][:, 1] == 1.0)  # age_bucket unknown everywhere
    assert x[USER].shape == (3, enc.nodes[USER].width) and np.isfinite(x[USER]).all()
    assert buckets[TAG].tolist() == [stable_bucket(t, enc.hash_buckets[TAG]) for t in ("a", "b", "c")]
    assert CREATOR in enc.nodes and enc.nodes[CREATOR].width == 1  # rev_created_by degree only


def test_degrees_before_a_time_hide_later_edges(tiny_store) -> None:
    c0 = int(tiny_store.lookup(CONTENT, ["c0"])[0])
    t0 = 1_600_000_000_000
    rel = reverse(WATCHED)
    assert degrees(tiny_store, rel, np.array([c0]), None).tolist() == [2.0]
    assert degrees(tiny_store, rel, np.array([c0]), t0 + 50).tolist() == [1.0]  # strictly before
    assert degrees(tiny_store, rel, np.array([c0]), t0 + 10).tolist() == [0.0]


def test_state_round_trips_as_plain_data(tiny_store) -> None:
    enc = FeatureEncoders.fit(tiny_store)
    state = enc.state()
    again = FeatureEncoders.from_state(state)
    assert again.state() == state and again.widths() == enc.widths()
    x1, _ = enc.encode(tiny_store, {CONTENT: np.arange(4)}, None)
    x2, _ = again.encode(tiny_store, {CONTENT: np.arange(4)}, None)
    np.testing.assert_array_equal(x1[CONTENT], x2[CONTENT])
