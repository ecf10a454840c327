"""``MarketState``: the only contract between the engine and everything downstream.

Units used throughout (also stated per field):

* prices in USD per share, as traded (``adj_close`` excepted);
* returns and win rates as **fractions** (0.0267 means +2.67%, 0.62 means 62%);
* VIX in index points; GEX in USD of delta per 1% move; dark-pool ratio dimensionless;
* horizons in trading days; dates are exchange-local trading dates.

Every model is frozen and forbids extra fields; collections are tuples so a state can be
hashed and shared between threads without copying.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.series import Series

SCHEMA_VERSION = 3

Direction = Literal["bullish", "bearish"]
Call = Literal["Bullish", "Bearish", "Neutral"]
Trend = Literal["Uptrend", "Downtrend", "Sideways"]
Verdict = Literal[
    "supported",
    "not distinguishable from base rate",
    "contradicted",
    "too few cases",
    "no claim",
]
Confidence = Literal["low", "medium", "high"]
ConfidenceReason = Literal[
    "short_history",  # too little history to measure anything yet
    "no_rule_fired",  # the forecast is the base rate
    "rules_carry_no_weight",  # the calibration slope is 0: no out-of-sample edge so far
    "edge_within_uncertainty",  # |prob_up - base| is within call_z of its sds
    "few_past_forecasts",  # too few past forecasts like today's to judge them
    "record_below_base",  # past forecasts like today's did worse than the base rate
    "record_not_clear",  # they did better, but the interval includes the base rate
]
Stance = Literal[
    "no_edge", "slight_up", "lean_long", "bullish", "slight_down", "lean_defensive", "defensive"
]
RecordVsLabel = Literal["agrees", "no better", "contradicts", "no record"]
VolModel = Literal["HAR-X", "HAR", "EWMA"]
LevelKind = Literal["range", "bollinger", "average", "gamma"]


class Frozen(BaseModel):
    """Base for every state model: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class WarningCode(StrEnum):
    """What a :class:`DataWarning` is about; code decides by the code, never by the text."""

    SYNTHETIC = "synthetic"  # the data is the simulated demo
    GAP = "gap"  # a series had no value on some trading days
    GAPS_NOT_LISTED = "gaps_not_listed"  # older gaps of a series, summarised
    NO_SERIES = "no_series"  # an optional series is absent: its rules cannot fire
    STALE = "stale"  # a series' last value is more than a day older than as_of
    STAND_IN = "stand_in"  # a series stands in for another (e.g. SPX GEX for IWM's)
    PRICES_BEHIND = "prices_behind"  # the store's prices lag the NYSE calendar
    NOT_A_SESSION = "not_a_session"  # rows on days the NYSE was closed were left out
    REPAIRED = "repaired"  # high/low slightly inside open/close, repaired
    UNADJUSTED = "unadjusted"  # no dividend-adjusted close: returns exclude dividends
    UNITS = "units"  # a series' values look like another unit (GEX in millions)
    SERIES_CHANGE = "series_change"  # a series' values come from more than one source
    FUTURE_ROWS = "future_rows"  # the store holds rows dated after the last session


class DataWarning(Frozen):
    """One caveat about the data behind a state, typed so nothing parses its text.

    ``dates`` are the warning's subject dates in order (a gap's first and last day, a
    series' last value); a replay of day ``D`` keeps a warning when its first subject
    date is on or before ``D``, so it never sees a problem from its own future.
    """

    code: WarningCode
    series: Series | None = None
    dates: tuple[dt.date, ...] = ()
    text: str = Field(description="The warning in words, for people and the narrator")

    def dated_by(self, day: dt.date) -> bool:
        """True unless the warning's first subject date is after ``day``."""
        return not self.dates or self.dates[0] <= day


class SeriesProvenance(Frozen):
    """Where one input series came from and how fresh it is."""

    series: Series
    source: str = Field(description="File name, provider name or 'demo (synthetic)'")
    first_date: dt.date | None = None
    last_date: dt.date | None = Field(None, description="Last date with a real value")
    rows: int = Field(0, description="Rows with a real (not forward-filled) value")
    synthetic: bool = False
    stale_days: int | None = Field(
        None, description="Trading days between last_date and the state's as_of"
    )
    note: str | None = Field(None, description="Caveat, e.g. a stand-in series")


class Bar(Frozen):
    """The as-of day's bar."""

    date: dt.date
    open: float
    high: float
    low: float
    close: float = Field(description="As-traded close, USD")
    adj_close: float = Field(description="Split/dividend-adjusted close, USD")
    volume: float | None = None
    change_pct: float | None = Field(
        None, description="Close-to-close change vs the previous day, as a fraction"
    )


class Indicators(Frozen):
    """Technical indicators on the as-of day; ``None`` while still warming up."""

    rsi14: float | None = Field(None, description="Wilder RSI(14), 0-100")
    sma20: float | None = None
    sma50: float | None = None
    sma200: float | None = None
    bb_upper: float | None = Field(None, description="SMA20 + 2 population sigma")
    bb_middle: float | None = None
    bb_lower: float | None = Field(None, description="SMA20 - 2 population sigma")
    bb_percent_b: float | None = Field(None, description="(close-lower)/(upper-lower)")
    macd: float | None = Field(None, description="EMA12 - EMA26 of close, USD")
    macd_signal: float | None = Field(None, description="EMA9 of MACD")
    macd_hist: float | None = Field(None, description="MACD - signal")
    atr14: float | None = Field(None, description="Wilder ATR(14), USD")
    atr14_pct: float | None = Field(None, description="ATR14 / close, fraction")
    realized_vol_20: float | None = Field(
        None, description="Annualised stdev of 20 daily log returns, fraction"
    )
    trend: Trend = "Sideways"
    trend_basis: str = Field("", description="Why the trend label was chosen")


class VixRegime(Frozen):
    level: float | None = Field(None, description="VIX close, points")
    mean_10d: float | None = Field(None, description="10-day mean of VIX, points")
    high_threshold: float = Field(description="High-VIX threshold, points (params.high_vix)")
    regime: Literal["high", "normal", "unknown"] = "unknown"


class GexRegime(Frozen):
    value: float | None = Field(None, description="Net GEX, USD per 1% move")
    previous: float | None = Field(None, description="Previous day's net GEX")
    regime: Literal["positive", "negative", "unknown"] = "unknown"
    flipped_positive: bool = False
    flipped_negative: bool = False
    flip_level: float | None = Field(None, description="Zero-gamma spot level, USD")
    call_wall: float | None = Field(None, description="Strike with most call gamma")
    put_wall: float | None = Field(None, description="Strike with most put gamma")
    snapshot_time: dt.datetime | None = Field(None, description="Option chain as-of")
    note: str | None = None
    series: str | None = Field(
        None, description="The GEX series today's value comes from, e.g. 'IWM chain snapshot'"
    )
    series_changed: bool = Field(
        False,
        description="The previous day's value came from another series: no flip is read",
    )


class DarkPoolRegime(Frozen):
    ratio: float | None = Field(None, description="ShortVol / (TotalVol - ShortVol)")
    mean_20d: float | None = None
    threshold: float = Field(description="Bullish above this (params.dark_pool_threshold)")
    regime: Literal["bullish", "neutral", "unknown"] = "unknown"


class Regime(Frozen):
    vix: VixRegime
    gex: GexRegime = GexRegime()
    dark_pool: DarkPoolRegime


class ConditionCheck(Frozen):
    """One comparison inside a rule, with the values that decided it."""

    text: str = Field(description="Human-readable condition, e.g. 'VIX >= 20'")
    left: str
    left_value: float | None
    op: str
    right: str
    right_value: float | None
    passed: bool | None = Field(description="None when an input is missing")


class Interval(Frozen):
    low: float
    high: float
    level: float = 0.95


class HorizonStats(Frozen):
    """Measured record of one rule at one horizon, point-in-time (no look-ahead).

    Only fires whose forward window had closed by the state's as-of date count.
    Fields beyond ``n_fired``/``win_rate``/``mean_return`` and the base rate are filled
    by the audit statistics and may be ``None`` when not computed.
    """

    horizon: int = Field(description="Trading days")
    n_fired: int = Field(description="Fires with a completed forward window")
    n_episodes: int | None = Field(None, description="Fires with non-overlapping windows")
    wins: int = 0
    win_rate: float | None = Field(None, description="Fraction of fires with r_h > 0")
    win_rate_ci: Interval | None = Field(None, description="Wilson 95% interval")
    mean_return: float | None = Field(None, description="Mean forward return, fraction")
    mean_return_ci: Interval | None = None
    median_return: float | None = None
    median_return_ci: Interval | None = None
    base_n: int = Field(0, description="All days with a completed forward window")
    base_win_rate: float | None = None
    base_mean_return: float | None = None
    lift: float | None = Field(None, description="win_rate - base_win_rate, fraction")
    p_value: float | None = Field(None, description="One-sided binomial vs base rate")
    q_value: float | None = Field(None, description="Benjamini-Hochberg across rules")
    claim_win_rate: float | None = None
    claim_mean_return: float | None = None
    verdict: Verdict | None = None
    window_start: dt.date | None = None
    window_end: dt.date | None = None

    @property
    def sample_size(self) -> int:
        """Independent cases behind the win rate: episodes when known, else fires.

        At 1 day every fire is its own episode, so the two agree; at 5 days episodes
        (non-overlapping windows) are what a sample size means. The one definition every
        report, table and forecast uses.
        """
        return self.n_episodes if self.n_episodes is not None else self.n_fired


class RuleClaim(Frozen):
    """What the playbook claims for a rule (to audit, never to print as fact)."""

    horizon: int
    win_rate: float | None = None
    mean_return: float | None = None
    text: str = ""


class RuleState(Frozen):
    name: str
    tier: int = Field(ge=1, le=3)
    direction: Direction
    signal: str = Field(description="The playbook's label, e.g. 'Strong Buy'")
    nickname: str | None = None
    rationale: str
    claim: RuleClaim | None = None
    fired: bool
    available: bool = Field(description="False when an input series is missing")
    conditions: tuple[ConditionCheck, ...] = ()
    last_fired: dt.date | None = Field(None, description="Most recent fire up to as_of")
    stats: tuple[HorizonStats, ...] = ()

    def stats_at(self, horizon: int) -> HorizonStats | None:
        """The measured record at ``horizon`` trading days, if computed."""
        return next((s for s in self.stats if s.horizon == horizon), None)


class Driver(Frozen):
    """A fired rule and its own measured record at the forecast's horizon.

    Display only: the forecast uses the cell of fired rules (:mod:`engine.calibration`),
    never a sum over rules. ``record_vs_label`` compares the record with the playbook's
    label: "agrees" (the rule's win rate is at or above the base rate), "no better" (below
    it, but the Wilson 95% interval includes it), "contradicts" (the interval lies
    entirely below the base rate), "no record" (no completed case yet).
    """

    rule: str
    tier: int
    direction: Direction
    n: int = Field(description="Sample size behind the win rate (episodes at 5 days)")
    win_rate: float | None = Field(None, description="Measured win rate, fraction")
    base_win_rate: float | None = Field(None, description="Win rate of all days, fraction")
    record_vs_label: RecordVsLabel = "no record"


class Record(Frozen):
    """The out-of-sample record of past forecasts like today's.

    "Like today's": the same cell of fired rules and the same lean, on days when the
    edge was larger than its uncertainty, whose outcome is known by the as-of day.
    """

    lean: Literal["up", "down"]
    n: int = Field(description="Such past forecasts with a known outcome")
    n_eff: float = Field(description="n deflated for overlapping windows")
    hit_rate: float | None = Field(None, description="Share that went the lean's way")
    base: float | None = Field(None, description="Mean base rate of the lean on those days")
    interval: Interval | None = Field(None, description="Wilson 95% interval on n_eff")


class RangeBand(Frozen):
    """One central range of the move over the horizon."""

    level: float = Field(description="Probability inside the range: 0.68 or 0.90")
    return_low: float = Field(description="Simple return over the horizon, fraction")
    return_high: float = Field(description="Simple return over the horizon, fraction")
    price_low: float = Field(description="As-traded USD: close * (1 + return_low)")
    price_high: float = Field(description="As-traded USD: close * (1 + return_high)")


class MoveRange(Frozen):
    """How far IWM may move over the horizon (:mod:`engine.volatility`)."""

    horizon: int = Field(description="Trading days")
    sigma: float = Field(description="Forecast sd of the h-day log return, fraction")
    sigma_annualised: float = Field(description="sigma * sqrt(252 / horizon), fraction")
    model: VolModel = Field(description="Volatility model used today")
    quantiles: Literal["empirical", "normal"] = Field(
        description="Range ends from past standardised returns, or normal quantiles"
    )
    quantile_n: int = Field(description="Standardised returns behind the quantiles")
    bands: tuple[RangeBand, ...]

    def band(self, level: float) -> RangeBand | None:
        """The range at ``level`` (0.68 or 0.90), if present."""
        return next((b for b in self.bands if abs(b.level - level) < 1e-9), None)


class KeyLevel(Frozen):
    """A price level that matters for the next session."""

    name: str = Field(description="e.g. '68% high', 'BB upper', 'SMA50', 'GEX flip'")
    kind: LevelKind
    price: float = Field(description="USD, as traded")
    distance: float = Field(description="price / close - 1, fraction")
    distance_sigma: float | None = Field(
        None, description="log(price / close) in units of tomorrow's sigma"
    )


def stance_of(call: Call, confidence: Confidence) -> Stance:
    """The trading stance a call at a confidence supports (the strategy line's key)."""
    if call == "Neutral":
        return "no_edge"
    up = call == "Bullish"
    if confidence == "high":
        return "bullish" if up else "defensive"
    if confidence == "medium":
        return "lean_long" if up else "lean_defensive"
    return "slight_up" if up else "slight_down"


class Forecast(Frozen):
    """The engine's forecast for one horizon (:mod:`engine.forecast`).

    ``stance`` is filled from ``call`` and ``confidence`` when omitted, and must agree
    with them when given; medium or high confidence needs a Bullish or Bearish call.
    """

    horizon: int = Field(description="Trading days ahead: 1 or 5")
    call: Call
    flavour: str = Field(description="Playbook-style label, e.g. 'Bullish Trend'")
    prob_up: float = Field(ge=0.0, le=1.0, description="Calibrated probability of r_h > 0")
    base_rate: float = Field(description="Share of all known days with r_h > 0")
    base_n: int = Field(description="Known days behind the base rate")
    confidence: Confidence
    confidence_reason: ConfidenceReason | None = Field(
        None, description="Why the confidence is low (None when medium or high)"
    )
    stance: Stance = Field(description="What the call at this confidence supports")
    prob_up_raw: float | None = Field(
        None, description="The cell's shrunk up-rate before calibration"
    )
    edge: float | None = Field(None, description="prob_up - base_rate, fraction")
    edge_se: float | None = Field(None, description="Uncertainty (sd) of the edge, fraction")
    calibration_slope: float | None = Field(
        None, description="kappa in [0, 1]: 0 means the rules carry no weight"
    )
    cell: tuple[str, ...] = Field((), description="The rules fired today (the cell)")
    cell_n: int = Field(0, description="Past days of this cell with a known outcome")
    cell_n_eff: float = Field(0.0, description="cell_n deflated for overlapping windows")
    cell_up_rate: float | None = Field(None, description="Share of those days that rose")
    record: Record | None = Field(None, description="Past forecasts like today's")
    drivers: tuple[Driver, ...] = ()
    move: MoveRange | None = Field(None, description="Ranges of the move; None early on")
    method: str = Field(description="One-line statement of how prob_up was formed")

    @model_validator(mode="before")
    @classmethod
    def _fill_stance(cls, data: Any) -> Any:
        if isinstance(data, dict) and "call" in data and "confidence" in data:
            stance = stance_of(data["call"], data["confidence"])
            if data.get("stance") is None:
                data = {**data, "stance": stance}
            elif data["stance"] != stance:
                raise ValueError(
                    f"stance {data['stance']!r} does not match call {data['call']} at "
                    f"{data['confidence']} confidence ({stance!r})"
                )
            if data["call"] == "Neutral" and data["confidence"] != "low":
                raise ValueError("a Neutral forecast has low confidence")
        return data


class EngineParams(Frozen):
    """Every threshold the engine and the reports use, each with its one default.

    Playbook conditions refer to these as ``param:NAME``; labels in reports read them
    from the state, so changing a value here (or through settings) changes every use.
    """

    high_vix: float = Field(20.0, gt=0, description="VIX at or above this is 'high', points")
    dark_pool_threshold: float = Field(1.5, gt=0, description="Dark-pool ratio 'bullish' above")
    rsi_extreme: float = Field(75.0, description="RSI(14) above this is extreme overbought")
    rsi_overbought: float = Field(70.0, description="RSI(14) at or above this is overbought")
    rsi_oversold: float = Field(30.0, description="RSI(14) at or below this is oversold")
    rsi_extreme_low: float = Field(25.0, description="RSI(14) at or below: extreme oversold")
    ffill_limit: int = Field(3, ge=0, description="Trading days an aux series is carried")
    # --- the forecast (engine.forecast, engine.calibration, engine.volatility) ---------
    cell_prior_cases: float = Field(
        50.0, gt=0, description="Pseudo-cases shrinking a cell's up-rate toward the base rate"
    )
    calibration_prior_sd: float = Field(
        0.5, gt=0, description="Prior sd of the calibration slope (prior mean 0: no edge)"
    )
    call_z: float = Field(
        1.96, gt=0, description="|prob_up - base| must exceed this many of its sds for a call"
    )
    min_history: int = Field(
        250, ge=1, description="Known outcomes needed before any call or confidence"
    )
    record_min_n: float = Field(
        30.0, gt=0, description="Effective past forecasts like today's needed for a call"
    )
    record_high_n: float = Field(
        100.0, gt=0, description="Effective past forecasts like today's needed for 'high'"
    )
    medium_level: float = Field(
        0.95, gt=0, lt=1, description="Wilson level whose lower bound must beat base: medium"
    )
    high_level: float = Field(
        0.99, gt=0, lt=1, description="Wilson level whose lower bound must beat base: high"
    )
    ewma_lambda: float = Field(
        0.94, gt=0, lt=1, description="Decay of the fallback EWMA volatility, per day"
    )
    vol_refit_every: int = Field(
        21, ge=1, description="Trading days between refits of the HAR model and quantiles"
    )
    vol_min_fit: int = Field(
        250, ge=30, description="Known rows needed to fit a HAR model or empirical quantiles"
    )
    quantile_window: int = Field(
        1000, ge=100, description="Trailing rows of standardised returns for the quantiles"
    )


class MarketState(Frozen):
    """Everything the narrator and the bot may know about the market on ``as_of``."""

    schema_version: int = SCHEMA_VERSION
    ticker: str = "IWM"
    as_of: dt.date
    synthetic: bool = Field(description="True when any input series is synthetic")
    inputs_hash: str = Field(description="sha256 of the data used, for the ledger")
    playbook_version: str = Field(description="sha256 prefix of the rules file")
    params: EngineParams = EngineParams()
    provenance: tuple[SeriesProvenance, ...]
    latest: Bar
    indicators: Indicators
    regime: Regime
    rules: tuple[RuleState, ...]
    tomorrow: Forecast
    next_5_days: Forecast
    key_levels: tuple[KeyLevel, ...] = Field(
        (), description="Price levels for the next session, highest first"
    )
    warnings: tuple[DataWarning, ...] = ()

    def rule(self, name: str) -> RuleState | None:
        """The rule called ``name`` (case-insensitive), or None."""
        key = name.strip().lower()
        return next((r for r in self.rules if r.name.lower() == key), None)

    @property
    def fired_rules(self) -> tuple[RuleState, ...]:
        return tuple(r for r in self.rules if r.fired)
