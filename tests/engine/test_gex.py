"""GEX math: a hand-computed small chain and the real IWM chain's flip level."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from engine.gex import MIN_T_YEARS, bs_gamma, compute_gex, years_to_expiry

AS_OF = dt.datetime(2026, 7, 10, 16, 0)  # naive = exchange time


def _chain(rows: list[tuple[str, str, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["expiration", "side", "strike", "open_interest", "iv", "gamma"]
    )


def test_hand_computed_small_chain() -> None:
    chain = _chain(
        [
            ("2026-07-17", "call", 100.0, 1000, 0.2, 0.05),
            ("2026-07-17", "put", 95.0, 2000, 0.25, 0.03),
            ("2026-07-10", "call", 105.0, 500, 0.3, 0.02),  # same-day expiry
            ("2026-08-21", "put", 100.0, 100, 0.2, 0.04),
        ]
    )
    res = compute_gex(chain, 100.0, AS_OF, adv_dollars=1e9)
    # sign * gamma * OI * 100 * S^2 * 0.01 with S = 100 -> factor 100 * 100 = 10_000
    expected = [0.05 * 1000 * 1e4, -0.03 * 2000 * 1e4, 0.02 * 500 * 1e4, -0.04 * 100 * 1e4]
    assert res.net_gex == pytest.approx(sum(expected))
    assert res.call_gex == pytest.approx(expected[0] + expected[2])
    assert res.put_gex == pytest.approx(expected[1] + expected[3])
    assert res.net_gex_ex_same_day == pytest.approx(sum(expected) - expected[2])
    assert res.call_wall == 100.0  # 500k beats 100k at 105
    assert res.put_wall == 95.0  # -600k is the largest put exposure
    assert res.share_of_adv == pytest.approx(sum(expected) / 1e9)
    assert res.by_strike.loc[100.0, "net_gex"] == pytest.approx(expected[0] + expected[3])
    assert res.by_expiry.loc[pd.Timestamp("2026-07-17"), "contracts"] == 2
    assert res.gamma_computed == 0


def test_bs_gamma_matches_closed_form() -> None:
    s, k, t, v, r, q = 100.0, 105.0, 0.25, 0.3, 0.04, 0.01
    d1 = (math.log(s / k) + (r - q + v * v / 2) * t) / (v * math.sqrt(t))
    expected = math.exp(-q * t) * norm.pdf(d1) / (s * v * math.sqrt(t))
    assert float(bs_gamma(s, k, t, v, r, q)) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(bs_gamma(s, k, t, 0.0, r, q))


def test_missing_gamma_is_computed_from_iv() -> None:
    chain = _chain([("2026-08-21", "call", 100.0, 10, 0.2, float("nan"))])
    res = compute_gex(chain, 100.0, AS_OF, r=0.0, q=0.0)
    t = float(years_to_expiry(chain["expiration"], AS_OF)[0])
    assert t == pytest.approx(42 / 365)
    g = norm.pdf(0.5 * 0.2 * math.sqrt(t)) / (100 * 0.2 * math.sqrt(t))
    assert res.net_gex == pytest.approx(g * 10 * 100 * 100 * 100 * 0.01)
    assert res.gamma_computed == 1


def test_expired_contract_time_is_floored() -> None:
    t = years_to_expiry(pd.Series(["2026-07-10"]), dt.datetime(2026, 7, 10, 17, 0))
    assert t[0] == MIN_T_YEARS


def test_flip_level_on_symmetric_chain_is_found_between_strikes() -> None:
    # Calls above, puts below: profile is positive at high spots, negative at low ones.
    chain = _chain(
        [
            ("2026-08-21", "call", 110.0, 1000, 0.2, float("nan")),
            ("2026-08-21", "put", 90.0, 1000, 0.2, float("nan")),
        ]
    )
    res = compute_gex(chain, 100.0, AS_OF, n_points=801)
    assert res.flip_level is not None
    assert 95.0 < res.flip_level < 105.0
    assert len(res.profile_spots) == 801
    assert res.profile_spots[0] == pytest.approx(80.0)
    assert res.profile_spots[-1] == pytest.approx(120.0)


def test_no_flip_when_profile_never_crosses() -> None:
    chain = _chain([("2026-08-21", "call", 100.0, 1000, 0.2, float("nan"))])
    assert compute_gex(chain, 100.0, AS_OF).flip_level is None


def test_bad_chain_is_refused() -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        compute_gex(pd.DataFrame({"strike": [1.0]}), 100.0, AS_OF)
    chain = _chain([("2026-08-21", "straddle", 100.0, 1, 0.2, 0.1)])
    with pytest.raises(ValueError, match="call"):
        compute_gex(chain, 100.0, AS_OF)


def _reference_profile(chain: pd.DataFrame, as_of: dt.datetime, r: float, q: float):
    """Independent per-contract loop with scipy's normal pdf."""
    now = pd.Timestamp(as_of.astimezone(dt.timezone(dt.timedelta(hours=-4))).replace(tzinfo=None))
    contracts = []
    for row in chain.itertuples():
        if not (row.iv > 0):
            continue
        expiry = pd.Timestamp(row.expiration) + pd.Timedelta(hours=16)
        t = max((expiry - now).total_seconds() / (365 * 86400), MIN_T_YEARS)
        oi = 0.0 if math.isnan(row.open_interest) else row.open_interest
        sign = 1.0 if row.side == "call" else -1.0
        contracts.append((sign * oi, row.strike, t, row.iv))

    def net(spot: float) -> float:
        total = 0.0
        for w, k, t, v in contracts:
            d1 = (math.log(spot / k) + (r - q + v * v / 2) * t) / (v * math.sqrt(t))
            gamma = math.exp(-q * t) * norm.pdf(d1) / (spot * v * math.sqrt(t))
            total += w * gamma * 100 * spot * spot * 0.01
        return total

    return net


def test_real_chain_flip_matches_independent_recomputation(raw_data_dir: Path) -> None:
    from sources.providers.chain import read_chain_file

    snap = read_chain_file(raw_data_dir / "daggerok_options-desk" / "IWM_chain_2026-07-12.json")
    assert len(snap.contracts) == 3224
    res = compute_gex(snap.contracts, snap.spot, snap.as_of)
    assert res.flip_level is not None
    net = _reference_profile(snap.contracts, snap.as_of, 0.04, 0.012)
    step = res.profile_spots[1] - res.profile_spots[0]
    lo, hi = res.flip_level - 2 * step, res.flip_level + 2 * step
    assert net(lo) * net(hi) < 0, "the reference profile must cross zero near our flip"
    ref = brentq(net, lo, hi, xtol=1e-6)
    assert res.flip_level == pytest.approx(ref, abs=0.02)
    # the grid profile itself agrees with the loop at spot
    i = int(np.argmin(np.abs(res.profile_spots - snap.spot)))
    assert res.profile_gex[i] == pytest.approx(net(float(res.profile_spots[i])), rel=1e-9)
    # net GEX uses the chain's own (CBOE) gammas: check against a plain sum
    c = snap.contracts
    sign = np.where(c["side"] == "call", 1.0, -1.0)
    plain = float(
        (sign * c["gamma"] * c["open_interest"].fillna(0) * 100 * snap.spot**2 * 0.01).sum()
    )
    assert res.net_gex == pytest.approx(plain)
