from __future__ import annotations

import numpy as np
import pytest

from engine.walkforward import score


def test_score_against_hand_values() -> None:
    p = [0.7, 0.4, 0.55, 0.3]
    up = [True, False, False, True]
    s = score(1, p, [0.5] * 4, ["Bullish", "Bearish", "Neutral", "Bearish"], up)
    y = np.array(up, dtype=float)
    assert s.model.hit_rate == pytest.approx(0.5)
    assert s.model.brier == pytest.approx(np.mean((np.array(p) - y) ** 2))
    ll = -np.mean([np.log(0.7), np.log(0.6), np.log(0.45), np.log(0.3)])
    assert s.model.log_loss == pytest.approx(ll)
    assert s.n_calls == 3 and s.call_hit_rate == pytest.approx(2 / 3)
    base, always = s.baselines
    assert base.brier == pytest.approx(0.25) and base.log_loss == pytest.approx(np.log(2))
    assert always.hit_rate == pytest.approx(0.5)
    assert sum(b.n for b in s.calibration) == 4
    top = s.calibration[-1]
    assert top.n == 1 and top.realized == 1.0
