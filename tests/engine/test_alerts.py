"""Alert detection: real sessions where the engine says something changed, and edges."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.alerts import AlertEvent, detect_alerts, usd
from engine.dataset import Dataset, GexSeries, assemble
from engine.prepared import Prepared, prepare
from engine.state import EngineParams


@pytest.fixture(scope="module")
def real(raw_data_dir: Path) -> Prepared:
    from sources.csv_import import load_dataset

    data = load_dataset(
        raw_data_dir / "kittycapital_etf-seasonality" / "IWM.csv",
        raw_data_dir / "noodles-rice_vix_dashboard" / "VIX_History.csv",
        raw_data_dir / "squeezemetrics_dix" / "DIX.csv",
    )
    return prepare(data)


def keys(events: tuple[AlertEvent, ...]) -> list[str]:
    return [e.key for e in events]


def test_vix_crossing_up_and_the_rule_it_starts_on_real_data(real: Prepared) -> None:
    # 2023-10-19: VIX closed at 21.40 after 19.22, with SqueezeMetrics' SPX GEX negative.
    events = detect_alerts(real, dt.date(2023, 10, 19))
    assert keys(events) == ["rule:Negative_GEX_AND_High_VIX", "vix_cross"]
    rule, vix = events
    assert rule.as_of == vix.as_of == dt.date(2023, 10, 19)
    assert rule.previous == dt.date(2023, 10, 18)
    assert "its GEX input is the SPX stand-in" in rule.text
    assert rule.figures["vix"] == pytest.approx(21.40)
    assert rule.figures["gex"] < 0
    assert vix.figures == {"vix": 21.40, "vix_previous": 19.22, "high_vix": 20.0}
    assert vix.text.startswith("VIX rose to 21.40, at or above the high-VIX threshold of 20")


def test_vix_crossing_down_on_real_data(real: Prepared) -> None:
    events = detect_alerts(real, dt.date(2023, 10, 24))
    vix = next(e for e in events if e.kind == "vix_cross")
    assert vix.figures["vix"] == pytest.approx(18.97)
    assert vix.figures["vix_previous"] == pytest.approx(20.37)
    assert "fell to 18.97, below the high-VIX threshold of 20" in vix.text


def test_threshold_comes_from_the_params(real: Prepared) -> None:
    # With high_vix = 25 the 2023-10-19 move (19.22 -> 21.40) crosses nothing.
    raised = prepare(real.dataset, real.playbook, EngineParams(high_vix=25.0))
    assert "vix_cross" not in keys(detect_alerts(raised, dt.date(2023, 10, 19)))
    lowered = prepare(real.dataset, real.playbook, EngineParams(high_vix=19.0))
    assert "vix_cross" not in keys(detect_alerts(lowered, dt.date(2023, 10, 19)))
    assert "vix_cross" in keys(detect_alerts(lowered, dt.date(2023, 10, 18)))


def test_rule_start_only_on_its_first_day(real: Prepared) -> None:
    fired = real.fires["Golden_Setup"]
    start = dt.date(2023, 6, 16)
    assert fired.loc[pd.Timestamp(start)] and not fired.loc[pd.Timestamp(2023, 6, 15)]
    event = next(e for e in detect_alerts(real, start) if e.key == "rule:Golden_Setup")
    assert {"close", "sma20", "sma50", "rsi14", "macd_hist", "vix", "vix_mean10"} <= set(
        event.figures
    )
    assert event.figures["close"] > event.figures["sma20"] > event.figures["sma50"]
    # every later day of the same run is quiet
    after = fired.loc[pd.Timestamp(start) :]
    run_end = pd.DatetimeIndex(after.index)[int(np.argmin(after.to_numpy()))]
    for day in real.dates[(real.dates > pd.Timestamp(start)) & (real.dates < run_end)]:
        assert "rule:Golden_Setup" not in keys(detect_alerts(real, day.date()))


def test_rule_starts_match_the_fires_over_years(real: Prepared) -> None:
    window = real.dates[
        (real.dates >= pd.Timestamp(2022, 1, 1)) & (real.dates <= pd.Timestamp(2024, 12, 31))
    ]
    tier1 = [r.name for r in real.playbook.rules if r.tier == 1]
    for name in tier1:
        col = real.fires[name]
        starts = {d.date() for d in window if col.loc[d] and not col.shift(1).fillna(False).loc[d]}
        seen = {d.date() for d in window if f"rule:{name}" in keys(detect_alerts(real, d.date()))}
        assert seen == starts, name
        assert starts, f"{name} never started in 2022-2024: the test would prove nothing"


def test_stand_in_gex_sign_change_is_never_an_alert(real: Prepared) -> None:
    gex, prev = real.ind["gex"], real.ind["gex_prev"]
    flips = real.dates[((gex < 0) != (prev < 0)) & prev.notna()]
    assert len(flips) > 50  # SqueezeMetrics' SPX GEX changes sign often
    for day in flips[-30:]:
        assert "gex_sign" not in keys(detect_alerts(real, day.date()))


def test_levels_only_on_snapshot_days(real: Prepared, raw_data_dir: Path) -> None:
    """The real IWM chain of Friday 2026-07-10: walls 300 / 290, flip near 302.6.

    The close crossed 300 on 2026-06-30 (298.97 -> 300.45), but no snapshot gives a
    call wall that day, so nothing is said; on 2026-07-10 (297.24 -> 295.99) no level
    was crossed.
    """
    from engine.gex import compute_gex
    from sources.providers.chain import read_chain_file

    snap = read_chain_file(raw_data_dir / "daggerok_options-desk" / "IWM_chain_2026-07-12.json")
    res = compute_gex(snap.contracts, snap.spot, snap.as_of)
    assert (res.call_wall, res.put_wall) == (300.0, 290.0)
    day = pd.Timestamp(2026, 7, 10)
    levels = pd.DataFrame(
        {"flip_level": [res.flip_level], "call_wall": [300.0], "put_wall": [290.0]},
        index=pd.DatetimeIndex([day]),
    )
    with_levels = replace(real, dataset=replace(real.dataset, gex_levels=levels))
    assert not [e for e in detect_alerts(with_levels, day.date()) if e.kind == "level_cross"]
    assert not [
        e for e in detect_alerts(with_levels, dt.date(2026, 6, 30)) if e.kind == "level_cross"
    ]
    # the same snapshot dated 2026-06-30 reads the call-wall crossing
    moved = replace(
        real, dataset=replace(real.dataset, gex_levels=levels.set_axis([pd.Timestamp(2026, 6, 30)]))
    )
    events = [e for e in detect_alerts(moved, dt.date(2026, 6, 30)) if e.kind == "level_cross"]
    assert keys(tuple(events)) == ["level:call_wall"]
    assert "closed at 300.45, at or above the call wall at 300.00" in events[0].text


# --- synthetic edges ------------------------------------------------------------------

N = 80
DAYS = pd.bdate_range("2024-01-02", periods=N, name="date")


def synthetic(
    gex: list[float] | None = None,
    series: tuple[GexSeries, ...] = (GexSeries("IWM", "chain", "test chain"),),
    ids: list[int] | None = None,
    vix: list[float] | None = None,
    closes: list[float] | None = None,
    levels: pd.DataFrame | None = None,
) -> Prepared:
    """80 flat sessions; the last values of each list are put at the end."""
    close = np.full(N, 100.0)
    if closes:
        close[-len(closes) :] = closes
    prices = pd.DataFrame({"close": close}, index=DAYS)
    aux: dict[str, pd.Series] = {}
    if vix:
        v = np.full(N, 15.0)
        v[-len(vix) :] = vix
        aux["vix"] = pd.Series(v, index=DAYS)
    gex_ids = None
    if gex:
        g = np.full(N, 1e9)
        g[-len(gex) :] = gex
        aux["gex"] = pd.Series(g, index=DAYS)
        if ids:
            i = np.zeros(N)
            i[-len(ids) :] = ids
            gex_ids = pd.Series(i, index=DAYS)
    data: Dataset = assemble(
        prices, aux, {"prices": "test"}, gex_series=series if gex else (), gex_ids=gex_ids
    )
    if levels is not None:
        data = replace(data, gex_levels=levels)
    return prepare(data)


def test_iwm_gex_sign_change_names_its_series() -> None:
    p = synthetic(gex=[2.5e8, -3.1e8])
    (event,) = detect_alerts(p)
    assert event.kind == "gex_sign" and event.as_of == DAYS[-1].date()
    assert event.figures == {"gex": -3.1e8, "gex_previous": 2.5e8}
    assert event.text.startswith("IWM net GEX turned negative: -$310.0M per 1% move")
    assert "(series: IWM chain snapshot, test chain)" in event.text
    # zero counts as positive, as in the regime; the Tier 1 rule on it starts too
    back = detect_alerts(synthetic(gex=[-3.1e8, 0.0]))
    assert keys(back) == ["rule:GEX_Turned_Positive", "gex_sign"]
    assert "its GEX input is the IWM chain snapshot" in back[0].text
    assert "turned positive: $0 per 1% move" in back[1].text


def test_no_gex_sign_change_across_a_change_of_series() -> None:
    two = (GexSeries("IWM", "history", "a.csv"), GexSeries("IWM", "chain", "chain"))
    p = synthetic(gex=[2.5e8, -3.1e8], series=two, ids=[0, 1])
    assert "gex_sign" not in keys(detect_alerts(p))
    same = synthetic(gex=[2.5e8, -3.1e8], series=two, ids=[1, 1])
    assert "gex_sign" in keys(detect_alerts(same))


def test_stand_in_series_never_alerts() -> None:
    spx = (GexSeries("SPX", "history", "DIX.csv", stand_in=True),)
    assert "gex_sign" not in keys(detect_alerts(synthetic(gex=[2.5e8, -3.1e8], series=spx)))


def test_vix_at_the_threshold_counts_as_high() -> None:
    assert keys(detect_alerts(synthetic(vix=[19.99, 20.0]))) == ["vix_cross"]
    assert detect_alerts(synthetic(vix=[20.0, 20.0])) == ()
    assert "fell to 19.99" in detect_alerts(synthetic(vix=[20.0, 19.99]))[0].text
    assert (
        detect_alerts(
            synthetic(
                vix=[float("nan"), 25.0],
            )
        )
        != ()
    )  # carried forward
    assert detect_alerts(synthetic(vix=[15.0] * 5 + [float("nan")] * 4 + [25.0])) == ()


def levels_frame(rows: dict[int, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(
        {DAYS[i]: v for i, v in rows.items()}, orient="index"
    ).rename_axis("date")


def test_close_crossing_each_level() -> None:
    lv = levels_frame({N - 1: {"call_wall": 101.0, "put_wall": 95.0, "flip_level": 99.0}})
    up = synthetic(closes=[98.0, 101.0], levels=lv)
    assert keys(detect_alerts(up)) == ["level:call_wall", "level:flip_level"]
    call = detect_alerts(up)[0]
    assert call.figures == {
        "close": 101.0,
        "close_previous": 98.0,
        "call_wall": 101.0,
        "call_wall_previous": 101.0,
    }
    down = synthetic(closes=[96.0, 94.5], levels=lv)
    (put,) = detect_alerts(down)
    assert put.key == "level:put_wall" and "below the put wall at 95.00" in put.text


def test_moving_level_is_read_against_each_days_own_value() -> None:
    # The call wall moved from 100 to 104 while the close went 101 -> 103: the close was
    # above yesterday's wall and is below today's, which is a crossing down.
    lv = levels_frame({N - 2: {"call_wall": 100.0}, N - 1: {"call_wall": 104.0}})
    (event,) = detect_alerts(synthetic(closes=[101.0, 103.0], levels=lv))
    assert event.figures["call_wall_previous"] == 100.0 and "below the call wall" in event.text


def test_no_level_alert_without_that_days_level() -> None:
    lv = levels_frame({N - 2: {"call_wall": 100.0, "put_wall": 90.0, "flip_level": 99.0}})
    assert detect_alerts(synthetic(closes=[98.0, 101.0], levels=lv)) == ()
    nan_today = levels_frame({N - 1: {"call_wall": float("nan"), "put_wall": 90.0}})
    assert detect_alerts(synthetic(closes=[98.0, 101.0], levels=nan_today)) == ()


def test_first_session_and_as_of_before_the_data() -> None:
    p = synthetic(vix=[25.0])
    assert detect_alerts(p, DAYS[0].date()) == ()
    assert detect_alerts(p, dt.date(2000, 1, 3)) == ()
    # a weekend as_of means the Friday before
    friday = next(d for d in DAYS if d.weekday() == 4)
    assert detect_alerts(p, friday.date() + dt.timedelta(days=1)) == detect_alerts(p, friday.date())


def test_usd_words() -> None:
    assert [usd(x) for x in (1.25e9, -3.1e8, 5200.0, -0.4)] == [
        "+$1.25B",
        "-$310.0M",
        "+$5,200",
        "$0",
    ]
