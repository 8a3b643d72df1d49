"""Feature encoders: known answers, missing features, plain-data state."""

from __future__ import annotations

import numpy as np
import pytest

from graph_store.schema import CONTENT, CREATOR, TAG, USER, WATCHED, reverse
from model.encoders import (
    DAY_MS, HOUR_MS, ColumnStats, FeatureEncoders, degrees, hours_since_first, hours_since_last, stable_bucket,
    window_count,
)
from model.history import ExposureHistory


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


def test_recency_never_looks_at_or_after_the_sampling_time(tiny_store) -> None:
    u1 = tiny_store.lookup(USER, ["u1"])  # watched c1 at T0+30, shared c2 at T0+40
    t0 = 1_600_000_000_000
    assert np.isnan(hours_since_last(tiny_store, WATCHED, u1, t0 + 30)).all()  # the edge at `before` is hidden
    assert hours_since_last(tiny_store, WATCHED, u1, t0 + 30 + HOUR_MS).tolist() == [1.0]
    # online (before=None) the reference time is just after the newest edge of the graph
    assert hours_since_last(tiny_store, WATCHED, u1, None).tolist() == [pytest.approx(21 / HOUR_MS)]
    assert window_count(tiny_store, WATCHED, u1, t0 + 30, 1).tolist() == [0.0]
    assert window_count(tiny_store, WATCHED, u1, t0 + 31, 1).tolist() == [1.0]
    assert window_count(tiny_store, WATCHED, u1, t0 + 31 + DAY_MS, 1).tolist() == [0.0]  # out of the window


def test_old_checkpoint_state_without_recency_parts_loads(tiny_store) -> None:
    state = FeatureEncoders.fit(tiny_store).state()
    for node in state["nodes"].values():
        for part in ("recency", "windows", "timed"):
            node.pop(part)
    old = FeatureEncoders.from_state(state)
    x, _ = old.encode(tiny_store, {USER: np.arange(3)}, None)
    assert x[USER].shape == (3, len(old.nodes[USER].features) * 2 + len(old.nodes[USER].degree))


def test_exposure_history_rates_use_only_earlier_exposures(tiny_store) -> None:
    t0 = 1_600_000_000_000
    hist = ExposureHistory(
        np.array(["u0", "u0", "u0", "u1"], dtype=object), np.array(["c0", "c1", "c0", "c0"], dtype=object),
        np.array([t0, t0 + 5, t0 + 9, t0 + 1], np.int64),
        {"is_click": np.array([1, 0, 1, 0]), "long_view": np.array([0, 0, 1, 1])}, {"c0": "k0"},
    )
    assert hist.columns(USER) == ["exp_log_n", "exp_is_click_rate", "exp_long_view_rate"]
    users = tiny_store.lookup(USER, ["u0", "u1", "u2"])
    v = hist.values(tiny_store, USER, users, t0 + 9)  # the exposure at t0+9 is not seen yet
    np.testing.assert_allclose(v[0], [np.log1p(2), 0.5, 0.0])
    np.testing.assert_allclose(v[1], [np.log1p(1), 0.0, 1.0])
    assert v[2, 0] == 0 and np.isnan(v[2, 1:]).all()  # never exposed: rates unknown
    creators = hist.values(tiny_store, CREATOR, tiny_store.lookup(CREATOR, ["k0", "k1"]), None)
    np.testing.assert_allclose(creators[0], [np.log1p(3), 2 / 3, 2 / 3])
    enc = FeatureEncoders.fit(tiny_store, source=hist)
    assert [s.name for s in enc.nodes[USER].timed] == hist.columns(USER)
    enc.source = None  # online: no exposure log, the columns encode as unknown
    x, _ = enc.encode(tiny_store, {USER: users}, None)
    assert (x[USER][:, -1] == 1.0).all()


def test_age_inputs_count_from_the_first_interaction_before_the_sampling_time(tiny_store) -> None:
    u = tiny_store.lookup(USER, ["u0", "u1", "u2"])  # first interactions at T0+10, +30, +50
    t0 = 1_600_000_000_000
    at = t0 + 30 + HOUR_MS
    assert hours_since_first(tiny_store, USER, u, at).tolist()[:2] == [pytest.approx(1 + 20 / HOUR_MS), 1.0]
    assert np.isnan(hours_since_first(tiny_store, USER, u, t0 + 30)[1:]).all()  # not strictly before
    plain = FeatureEncoders.fit(tiny_store)
    aged = FeatureEncoders.fit(tiny_store, age=True)
    assert [s.name for s in aged.nodes[USER].age] == ["first"] and not aged.nodes[CREATOR].age
    assert aged.nodes[CONTENT].width == plain.nodes[CONTENT].width + 2
    x, _ = aged.encode(tiny_store, {CONTENT: np.arange(4)}, t0 + 25)
    c3 = int(tiny_store.lookup(CONTENT, ["c3"])[0])  # catalog edges only: age unknown
    assert x[CONTENT][c3, -1] == 1.0 and x[CONTENT][int(tiny_store.lookup(CONTENT, ["c0"])[0]), -1] == 0.0
    assert FeatureEncoders.from_state(aged.state()).widths() == aged.widths()


def test_a_window_count_never_goes_negative_when_an_old_edge_lands_between_its_reads(tiny_store) -> None:
    t0 = 1_600_000_000_000
    c1 = tiny_store.lookup(CONTENT, ["c1"])
    u0 = int(tiny_store.lookup(USER, ["u0"])[0])
    live_degree = tiny_store.degree

    def degree_then_append(edge_type, nodes, before=None):  # the consumer appends right after the live read
        out = live_degree(edge_type, nodes, before)
        if before is None:
            tiny_store.degree = live_degree
            tiny_store.add_edges(WATCHED, [u0, u0], [int(c1[0])] * 2, [t0 - 5 * DAY_MS, t0 - 4 * DAY_MS],
                                 attr=[50.0, 60.0])
        return out

    tiny_store.degree = degree_then_append
    counts = window_count(tiny_store, reverse(WATCHED), c1, None, 1)
    assert counts.tolist() == [0.0]  # 1 live watch then, 2 older than a day now: clipped, not -1
