"""The chunked GEX sweep and the bincount breakdowns agree with the previous kernels.

The reference (:func:`tests.engine.reference_kernels.ref_compute_gex`) is the previous
implementation: a ``spots x contracts`` array for the sweep and ``groupby`` for the
breakdowns. Scalar figures must agree to 1e-12 relative (in practice they are equal),
the profile to 1e-12 of its largest magnitude, the breakdown frames exactly in shape,
index, columns and dtypes and to 1e-12 relative in value.
"""

from __future__ import annotations

import datetime as dt
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine import gex
from engine.gex import GexResult, compute_gex, gamma_profile, years_to_expiry
from tests.engine.reference_kernels import ref_compute_gex, ref_gamma_profile, ref_years_to_expiry

AS_OF = dt.datetime(2026, 7, 10, 12, 0)
SPOT = 250.0
REL = 1e-12


def synthetic_chain(n: int, seed: int = 42) -> pd.DataFrame:
    """A chain like the benchmark's: 60 weekly expiries, strikes +-40%, 20% without gamma."""
    rng = np.random.default_rng(seed)
    expiries = pd.bdate_range("2026-07-10", periods=60, freq="W-FRI")
    return pd.DataFrame(
        {
            "expiration": rng.choice(expiries, n),
            "side": rng.choice(["call", "put"], n),
            "strike": np.round(SPOT * rng.uniform(0.6, 1.4, n)),
            "open_interest": rng.integers(0, 20_000, n).astype(float),
            "iv": rng.uniform(0.12, 0.6, n),
            "gamma": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 0.05, n)),
        }
    )


def assert_same_gex(got: GexResult, want: GexResult) -> None:
    for name in ("spot", "net_gex", "call_gex", "put_gex", "net_gex_ex_same_day"):
        assert getattr(got, name) == pytest.approx(getattr(want, name), rel=REL, abs=0.0), name
    for name in ("flip_level", "call_wall", "put_wall", "share_of_adv"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a == pytest.approx(b, rel=REL, abs=0.0), name
    assert (got.as_of, got.contracts, got.gamma_computed, got.notes) == (
        want.as_of,
        want.contracts,
        want.gamma_computed,
        want.notes,
    )
    np.testing.assert_array_equal(got.profile_spots, want.profile_spots)
    scale = float(np.nanmax(np.abs(want.profile_gex), initial=0.0)) or 1.0
    np.testing.assert_allclose(got.profile_gex, want.profile_gex, rtol=0, atol=REL * scale)
    for name in ("by_strike", "by_expiry"):
        a, b = getattr(got, name), getattr(want, name)
        pd.testing.assert_index_equal(a.index, b.index, exact=True)
        pd.testing.assert_index_equal(a.columns, b.columns, exact=True)
        assert list(a.dtypes) == list(b.dtypes), name
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=REL, atol=0.0)


def test_real_chain_matches_reference(raw_data_dir: Path) -> None:
    from sources.providers.chain import read_chain_file

    snap = read_chain_file(raw_data_dir / "daggerok_options-desk" / "IWM_chain_2026-07-12.json")
    chain = snap.contracts
    for kwargs in ({}, {"adv_dollars": 5e9, "n_points": 801, "sweep": 0.3}):
        for spot in (snap.spot, 280.0):
            got = compute_gex(chain, spot, snap.as_of, **kwargs)  # type: ignore[arg-type]
            assert_same_gex(got, ref_compute_gex(chain, spot, snap.as_of, **kwargs))  # type: ignore[arg-type]
    no_gamma = chain.drop(columns=["gamma"])  # every gamma from iv: the sweep's own formula
    assert_same_gex(
        compute_gex(no_gamma, snap.spot, snap.as_of),
        ref_compute_gex(no_gamma, snap.spot, snap.as_of),
    )


@pytest.mark.parametrize("n", [0, 1, 7, 1_000, 20_000])
def test_synthetic_chains_match_reference(n: int) -> None:
    chain = synthetic_chain(n, seed=n)
    assert_same_gex(compute_gex(chain, SPOT, AS_OF), ref_compute_gex(chain, SPOT, AS_OF))


def _variants() -> dict[str, tuple[pd.DataFrame, dt.datetime]]:
    base = synthetic_chain(3_000, seed=3)
    holes = base.copy()
    holes.loc[holes.index[::7], "iv"] = np.nan
    holes.loc[holes.index[::11], "iv"] = 0.0
    holes.loc[holes.index[::13], "open_interest"] = np.nan
    cases = {
        "holes": (holes, dt.datetime(2026, 7, 17, 17, 30)),  # past one expiry's close
        "same day, aware": (holes, dt.datetime(2026, 7, 10, 14, 0, tzinfo=dt.UTC)),
        "upper-case sides": (base.assign(side=base["side"].str.upper()), AS_OF),
        "categorical sides": (base.assign(side=pd.Categorical(base["side"])), AS_OF),
        "dates as objects": (base.assign(expiration=[d.date() for d in base["expiration"]]), AS_OF),
        "dates as text": (
            base.assign(expiration=base["expiration"].dt.strftime("%Y-%m-%d")),
            AS_OF,
        ),
        "expiry times": (base.assign(expiration=base["expiration"] + pd.Timedelta(hours=9)), AS_OF),
        "no gamma column": (base.drop(columns=["gamma"]), AS_OF),
    }
    missing = base.copy()
    missing.loc[5, "expiration"] = pd.NaT
    missing.loc[9, "strike"] = np.nan
    cases["missing keys"] = (missing, AS_OF)
    return cases


@pytest.mark.parametrize("case", list(_variants()))
def test_chain_variants_match_reference(case: str) -> None:
    chain, as_of = _variants()[case]
    assert_same_gex(compute_gex(chain, SPOT, as_of), ref_compute_gex(chain, SPOT, as_of))
    assert_same_gex(
        compute_gex(chain, SPOT, as_of, n_points=2), ref_compute_gex(chain, SPOT, as_of, n_points=2)
    )


@pytest.mark.parametrize("side", ["CALLS", None, ""])
def test_bad_side_refused_as_before(side: object) -> None:
    chain = synthetic_chain(50).astype({"side": object})
    chain.loc[3, "side"] = side
    for fn in (compute_gex, ref_compute_gex):
        with pytest.raises(ValueError, match="option side must be 'call' or 'put'"):
            fn(chain, SPOT, AS_OF)


def test_years_to_expiry_identical() -> None:
    for chain, as_of in _variants().values():
        got = years_to_expiry(chain["expiration"], as_of)
        want = ref_years_to_expiry(chain["expiration"], as_of)
        np.testing.assert_array_equal(got, want)


def test_profile_independent_of_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = synthetic_chain(5_000, seed=9)
    t = years_to_expiry(chain["expiration"], AS_OF)
    weight = np.where(chain["side"] == "call", 1.0, -1.0) * chain["open_interest"].to_numpy()
    args = (chain["strike"].to_numpy(), t, chain["iv"].to_numpy(), weight)
    spots = np.linspace(200.0, 300.0, 401)
    want = ref_gamma_profile(spots, *args)
    scale = float(np.abs(want).max())
    for chunk in (1, 4_999, 5_001, 1 << 18, 1 << 24):
        monkeypatch.setattr(gex, "SWEEP_CHUNK_ELEMENTS", chunk)
        np.testing.assert_allclose(gamma_profile(spots, *args), want, rtol=0, atol=REL * scale)


def test_sweep_memory_stays_flat() -> None:
    """40,000 contracts x 401 spots: the old kernel held four 128 MB arrays at once."""
    n = 40_000
    rng = np.random.default_rng(1)
    args = (
        rng.uniform(150, 350, n),
        rng.uniform(0.01, 1.5, n),
        rng.uniform(0.1, 0.6, n),
        rng.normal(0, 1000, n),
    )
    spots = np.linspace(200.0, 300.0, 401)
    tracemalloc.start()
    try:
        gamma_profile(spots, *args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # a 2 MB sweep buffer plus a few per-contract arrays of 320 kB each
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_group_sums_are_exactly_rounded() -> None:
    """Calls and puts cancel in a net figure: a plain running sum would lose them."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        sizes = rng.integers(1, 60, rng.integers(1, 20))
        scale = 10.0 ** rng.integers(-5, 12, sizes.sum())
        x = rng.normal(0, 1, sizes.sum()) * scale
        x[rng.random(x.size) < 0.1] *= -1e8  # huge terms that cancel within their group
        x = np.concatenate([x, -x[: x.size // 3]])
        sizes = np.append(sizes, x.size - sizes.sum())
        got = gex._group_sums(x, sizes)
        starts = np.cumsum(sizes) - sizes
        exact = [math.fsum(x[s : s + k]) for s, k in zip(starts, sizes, strict=True)]
        np.testing.assert_array_equal(got, exact)
    assert gex._group_sums(np.array([1e16, 1.0, -1e16, np.nan]), np.array([4]))[0] == 1.0
