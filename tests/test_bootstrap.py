"""Percentile-bootstrap intervals (evals/bootstrap.py) on hand-worked data, seeded
reproducibility, and agreement with scipy.stats.bootstrap's percentile method."""
from __future__ import annotations

import math

import numpy as np
import pytest

from evals.bootstrap import bootstrap_ci, finite, percentile_interval, resample_means


def test_constant_data_gives_the_point_as_interval() -> None:
    ci = bootstrap_ci([0.7] * 25, b=500, seed=3)
    assert (ci.point, ci.low, ci.high, ci.n, ci.b) == (0.7, 0.7, 0.7, 25, 500)


def test_one_value_gives_the_point() -> None:
    ci = bootstrap_ci([0.25])
    assert (ci.low, ci.point, ci.high) == (0.25, 0.25, 0.25)


def test_percentile_interval_hand_worked() -> None:
    # 101 replicates 0..100: the 5% and 95% quantiles (linear interpolation) are 5 and 95 exactly.
    assert percentile_interval(list(range(101)), 0.90) == pytest.approx((5.0, 95.0))
    # α = 0.5 on 0..4: quantiles at 0.25 and 0.75 of the index range → 1 and 3.
    assert percentile_interval([4, 0, 3, 1, 2], 0.5) == pytest.approx((1.0, 3.0))
    # Between order statistics the quantile interpolates: 0.025 of 0..9 sits at index 0.225.
    assert percentile_interval(list(range(10)), 0.95) == pytest.approx((0.225, 8.775))


def test_two_point_data_resamples_to_the_three_possible_means() -> None:
    # n = 2 draws from {0, 1}: means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4.
    means = resample_means([0.0, 1.0], b=20_000, seed=1)
    assert set(np.unique(means)) == {0.0, 0.5, 1.0}
    shares = [float(np.mean(means == v)) for v in (0.0, 0.5, 1.0)]
    assert shares == pytest.approx([0.25, 0.5, 0.25], abs=0.015)
    ci = bootstrap_ci([0.0, 1.0], b=20_000, seed=1)
    assert (ci.low, ci.high) == (0.0, 1.0)  # 2.5% and 97.5% fall in the 1/4 masses at the ends


def test_seeded_reproducible_and_seed_matters() -> None:
    values = [0.1, 0.9, 0.4, 0.35, 0.8, 0.0, 1.0, 0.55, 0.6, 0.2]
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    assert bootstrap_ci(values, seed=7) != bootstrap_ci(values, seed=8)


def test_known_mean_inside_and_width_matches_normal_theory() -> None:
    # 100 Bernoulli outcomes with mean 0.5: the standard error is sqrt(.25/100) = 0.05, so a
    # 95% interval is about ±0.098 wide on each side.
    values = [0.0, 1.0] * 50
    ci = bootstrap_ci(values, b=4000, seed=0)
    assert ci.point == 0.5 and ci.low < 0.5 < ci.high
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * 0.05, abs=0.03)


def test_matches_scipy_percentile_bootstrap() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(42)
    values = rng.beta(2, 5, size=60)
    ours = bootstrap_ci(values.tolist(), b=5000, seed=0)
    ref = scipy_stats.bootstrap((values,), np.mean, n_resamples=5000, method="percentile",
                                confidence_level=0.95, random_state=np.random.default_rng(0)).confidence_interval
    # Different random streams: agreement to Monte Carlo error of the interval ends.
    assert ours.low == pytest.approx(ref.low, abs=0.01)
    assert ours.high == pytest.approx(ref.high, abs=0.01)


def test_custom_statistic() -> None:
    ci = bootstrap_ci([1.0, 2.0, 3.0, 100.0], b=300, seed=0, statistic=np.median)
    assert ci.point == 2.5 and ci.low >= 1.0 and ci.high <= 100.0


@pytest.mark.parametrize("values, kwargs, message", [
    ([], {}, "at least one value"),
    ([0.1, math.nan], {}, "NaN"),
    ([0.1, 0.2], {"b": 0}, "b=0"),
    ([0.1, 0.2], {"confidence": 1.0}, "confidence=1.0"),
])
def test_bad_input_is_named(values, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(values, **kwargs)


def test_finite_drops_undefined_scores() -> None:
    assert finite([1, 0.5, math.nan, math.inf, None, "x"]) == [1.0, 0.5]  # type: ignore[list-item]


def test_to_dict_shape() -> None:
    assert bootstrap_ci([0.5, 0.5]).to_dict() == {"mean": 0.5, "ci95": [0.5, 0.5], "n": 2}
