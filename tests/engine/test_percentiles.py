"""The bootstrap's percentiles against ``np.percentile``: the same bits, every case."""

from __future__ import annotations

import numpy as np
import pytest

from engine.stats import _percentiles

TAILS = (2.5, 5.0, 0.5, 25.0, 50.0)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


@pytest.mark.parametrize("seed", range(4))
def test_random_rows_give_numpys_bits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for i in range(300):
        k = int(rng.integers(2, 2500))
        rows = rng.normal(size=(2, k)) * 10 ** rng.uniform(-6, 3)
        if i % 3 == 0:
            rows = np.round(rows, 3)  # ties, and -0.0 beside 0.0
        if i % 7 == 0:
            rows[:, ::3] = rows[:, :1]  # many equal values
        for tail in TAILS:
            q = (tail, 100.0 - tail)
            assert _same_bits(_percentiles(rows, q), np.percentile(rows, q, axis=1)), (i, tail)


def test_zeros_nans_and_the_ends_give_numpys_bits() -> None:
    rows = np.zeros((2, 2000))
    rows[0, ::2] = -0.0
    rows[1, 5:] = np.arange(1995.0)
    for q in ((2.5, 97.5), (0.0, 100.0), (50.0, 50.0)):
        assert _same_bits(_percentiles(rows, q), np.percentile(rows, q, axis=1))
    rows[1, 7] = np.nan
    assert _same_bits(_percentiles(rows, (2.5, 97.5)), np.percentile(rows, (2.5, 97.5), axis=1))
