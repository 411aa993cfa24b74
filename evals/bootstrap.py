"""Percentile-bootstrap confidence intervals for a mean over golden cases (Efron & Tibshirani,
1993, "An Introduction to the Bootstrap", ch. 13): pure functions over lists of numbers.

    values x_1..x_n ──▶ B resamples of n draws with replacement (seeded) ──▶ B means θ*_1..θ*_B
                    ──▶ interval [θ*_(α/2), θ*_(1-α/2)], the empirical quantiles of the θ*

The percentile interval needs no normality assumption, which matters here: per-case scores are
often 0/1 (refusal correctness) or piled up at 0 and 1 (ROUGE-L, NDCG), and golden sets are
small (tens of cases). Its known weakness is coverage below the nominal level for very small
n (Efron & Tibshirani §13.3); the summary reports n beside every interval so a reader can
judge. Quantiles use linear interpolation between order statistics (numpy's default), which
for B = 1000 and α = 0.05 sits between the 25th and 26th smallest replicate.

Values are sorted by the caller's key before resampling (`evals.summary`), so the interval does
not depend on the order cases finished in; with the same seed, the same values give the same
interval.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_B = 1000
DEFAULT_CONFIDENCE = 0.95
# Rows of the (B, n) resample index matrix drawn at a time: bounds memory for large golden sets.
_CHUNK_ROWS = 256


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile-bootstrap interval.

    Fields:
        point: the statistic on the data as observed (not the mean of the replicates).
        low / high: the interval's ends; equal to `point` when n == 1 or every value is equal.
        n: how many values; b: bootstrap replicates; confidence: e.g. 0.95.
    """

    point: float
    low: float
    high: float
    n: int
    b: int
    confidence: float

    def to_dict(self) -> dict[str, float | int | list[float]]:
        return {"mean": self.point, "ci95" if self.confidence == 0.95 else "ci": [self.low, self.high], "n": self.n}


def resample_means(values: Sequence[float], *, b: int = DEFAULT_B, seed: int = 0) -> np.ndarray:
    """B bootstrap means, shape (B,): row r is the mean of n draws (with replacement) from
    `values`, the draws taken from numpy's PCG64 generator seeded with `seed`."""
    data = np.asarray(values, dtype=np.float64)  # (n,)
    rng = np.random.default_rng(seed)
    out = np.empty(b, dtype=np.float64)
    for start in range(0, b, _CHUNK_ROWS):
        rows = min(_CHUNK_ROWS, b - start)
        idx = rng.integers(0, data.size, size=(rows, data.size))  # (rows, n)
        out[start:start + rows] = data[idx].mean(axis=1)
    return out


def percentile_interval(replicates: Sequence[float] | np.ndarray, confidence: float) -> tuple[float, float]:
    """The (α/2, 1 - α/2) empirical quantiles of the replicates, α = 1 - confidence."""
    alpha = 1.0 - confidence
    low, high = np.quantile(np.asarray(replicates, dtype=np.float64), [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_ci(values: Sequence[float], *, b: int = DEFAULT_B, confidence: float = DEFAULT_CONFIDENCE,
                 seed: int = 0, statistic: Callable[[np.ndarray], float] | None = None) -> Interval:
    """Percentile-bootstrap interval of the mean of `values` (or of `statistic`, a function of a
    1-D array; slower: one Python call per replicate).

    Raises ValueError on an empty sequence, a non-finite value, b < 1 or confidence outside (0, 1).
    """
    if not values:
        raise ValueError("bootstrap_ci needs at least one value; leave the metric out of the summary instead")
    if b < 1:
        raise ValueError(f"b={b} bootstrap replicates must be >= 1 (1000 is the usual choice)")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence} must be in (0, 1), e.g. 0.95")
    data = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise ValueError("bootstrap_ci got a NaN or infinite value; drop undefined scores before resampling")
    if statistic is None:
        point = math.fsum(data.tolist()) / data.size  # exactly rounded: 25 x 0.7 averages to 0.7
        replicates = resample_means(data, b=b, seed=seed)
    else:
        point = float(statistic(data))
        rng = np.random.default_rng(seed)
        replicates = np.array([statistic(data[rng.integers(0, data.size, size=data.size)]) for _ in range(b)])
    if data.size == 1 or np.all(data == data[0]):
        # Every resample is the data itself: the interval is the point, without float noise.
        return Interval(point, point, point, int(data.size), b, confidence)
    low, high = percentile_interval(replicates, confidence)
    # Interpolated quantiles of means stay within [min, max] of the data; clamp the last ulp.
    low, high = max(low, float(data.min())), min(high, float(data.max()))
    return Interval(point, low, high, int(data.size), b, confidence)


def finite(values: Sequence[float]) -> list[float]:
    """The finite values (NaN/inf dropped): an undefined per-case score is not a zero."""
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
