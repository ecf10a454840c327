"""Tomorrow's key levels: which appear, their order and their distances."""

from __future__ import annotations

import math

import pytest

from engine.levels import key_levels
from engine.state import GexRegime, Indicators, MoveRange, RangeBand


def _move(close: float = 200.0, sigma: float = 0.01) -> MoveRange:
    bands = tuple(
        RangeBand(
            level=level,
            return_low=math.expm1(-z * sigma),
            return_high=math.expm1(z * sigma),
            price_low=close * math.exp(-z * sigma),
            price_high=close * math.exp(z * sigma),
        )
        for level, z in ((0.68, 1.0), (0.90, 1.645))
    )
    return MoveRange(horizon=1, sigma=sigma, sigma_annualised=sigma * math.sqrt(252),
                     model="HAR-X", quantiles="normal", quantile_n=0, bands=bands)  # fmt: skip


def test_levels_sorted_with_distances_in_percent_and_sigma() -> None:
    ind = Indicators(bb_upper=206.0, bb_lower=190.0, sma20=198.0, sma50=None)
    gex = GexRegime(flip_level=210.0, call_wall=205.0, put_wall=195.0)
    levels = key_levels(200.0, _move(), ind, gex)
    names = [lv.name for lv in levels]
    assert names == [
        "GEX flip", "BB upper", "call wall", "90% high", "68% high",
        "68% low", "SMA20", "90% low", "put wall", "BB lower",
    ]  # fmt: skip
    assert [lv.price for lv in levels] == sorted((lv.price for lv in levels), reverse=True)
    flip = levels[0]
    assert flip.kind == "gamma" and flip.distance == pytest.approx(0.05)
    assert flip.distance_sigma == pytest.approx(math.log(1.05) / 0.01, abs=0.01)
    high68 = next(lv for lv in levels if lv.name == "68% high")
    assert high68.distance_sigma == pytest.approx(1.0)


def test_no_chain_no_gamma_levels_and_no_range_before_a_model() -> None:
    levels = key_levels(200.0, None, Indicators(sma20=198.0, sma50=202.0), GexRegime())
    assert [(lv.name, lv.distance_sigma) for lv in levels] == [("SMA50", None), ("SMA20", None)]
