"""The fast statistics kernels give bit for bit what the plain formulas they replaced gave.

The references (:mod:`tests.engine.reference_kernels`) are the previous implementations:
one ``(n_boot, n)`` index matrix and ``np.median`` for the bootstrap, ``np.isin`` per gap
for the effective sample size. Results are compared with ``repr`` (so ``-0.0`` against
``0.0`` or a last-bit difference fails), not with a tolerance.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from engine import stats
from tests.engine.reference_kernels import ref_block_bootstrap_ci, ref_effective_sample_size


def _values(rng: np.random.Generator, n: int, kind: str) -> npt.NDArray[np.float64]:
    x = rng.normal(0.001, 0.02, n)
    if kind == "ties":  # many equal values, and -0.0 from rounding small negatives
        x = np.round(x, 3)
    elif kind == "nan":
        x[rng.random(n) < 0.05] = np.nan
    elif kind == "integers":
        x = rng.integers(-3, 4, n).astype(np.float64)
    elif kind == "inf":
        x[rng.integers(0, n)] = np.inf
        x[rng.integers(0, n)] = -np.inf
    return x


KINDS = ("normal", "ties", "nan", "integers", "inf")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN/inf cases warn in both versions
@pytest.mark.parametrize("kind", KINDS)
def test_bootstrap_identical_to_reference(kind: str) -> None:
    rng = np.random.default_rng(KINDS.index(kind))
    for trial in range(120):
        n = int(rng.integers(2, 300)) if trial % 8 else int(rng.integers(300, 2500))
        x = _values(rng, n, kind)
        block = int(rng.integers(1, 14))
        n_boot = int(rng.integers(1, 700))
        seed = (int(rng.integers(0, 99)), trial, 5)
        got = stats.block_bootstrap_ci(x, block=block, n_boot=n_boot, seed=seed)
        want = ref_block_bootstrap_ci(x, block=block, n_boot=n_boot, seed=seed)
        assert repr(got) == repr(want), (kind, n, block, n_boot, seed)


def test_bootstrap_identical_at_audit_size_and_edges() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(0.0005, 0.015, 254)
    for block in (5, 10):
        for seed in ((0, 3, 1), (1000, 6, 5)):
            got = stats.block_bootstrap_ci(x, block=block, n_boot=2000, seed=seed, level=0.9)
            want = ref_block_bootstrap_ci(x, block=block, n_boot=2000, seed=seed, level=0.9)
            assert repr(got) == repr(want)
    # block longer than the series, block 1, two values, big int32 ranks
    for n, block in ((7, 50), (40, 1), (2, 5), (40_000, 10)):
        y = rng.normal(size=n)
        boots = 50 if n > 10_000 else 500
        got = stats.block_bootstrap_ci(y, block=block, n_boot=boots, seed=1)
        assert repr(got) == repr(ref_block_bootstrap_ci(y, block=block, n_boot=boots, seed=1))
    assert stats.block_bootstrap_ci(np.array([1.0]), block=5) == (None, None)
    assert stats.block_bootstrap_ci(x, block=5, n_boot=0) == (None, None)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_bootstrap_chunks_and_selection_do_not_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    for n in (333, 334):  # odd and even: one or two middle values
        x = np.round(rng.normal(size=n), 2)
        x[rng.integers(0, n)] = np.nan
        want = ref_block_bootstrap_ci(x, block=10, n_boot=999, seed=4)
        clean = x[~np.isnan(x)]
        want_clean = ref_block_bootstrap_ci(clean, block=7, n_boot=999, seed=4)
        for chunk in (1, 340, 5000, 1 << 22):
            for sort_up_to in (0, 1 << 20):  # partition around the middle, or sort
                monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", chunk)
                monkeypatch.setattr(stats, "_SORT_UP_TO", sort_up_to)
                got = stats.block_bootstrap_ci(x, block=10, n_boot=999, seed=4)
                assert repr(got) == repr(want)
                got = stats.block_bootstrap_ci(clean, block=7, n_boot=999, seed=4)
                assert repr(got) == repr(want_clean)


def test_bootstrap_rejects_a_table() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        stats.block_bootstrap_ci(np.zeros((3, 4)), block=2)


def test_ess_identical_to_reference() -> None:
    rng = np.random.default_rng(5)
    for trial in range(1500):
        n = int(rng.integers(0, 300))
        h = int(rng.integers(1, 12))
        span = int(rng.integers(max(n, 1), 3 * max(n, 1) + 1))
        pos = np.sort(rng.choice(span, size=n, replace=False)).astype(np.int64)
        if trial % 3 == 0 and n:  # duplicates and disorder: unique() is still applied
            pos = rng.permutation(np.concatenate([pos, pos[: n // 3]]))
        assert repr(stats.effective_sample_size(pos, h)) == repr(ref_effective_sample_size(pos, h))


def test_binomial_cache_is_read_only_and_consistent() -> None:
    a = stats.binomial_p_greater(30, 42, 0.54)
    b = stats.binomial_p_less(29, 42, 0.54)
    assert a is not None and b is not None
    assert a + b == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError):
        stats._binomial_pmf(42, 0.54)[0] = 1.0
    assert stats.binomial_p_greater(30, 42, 0.54) == a
