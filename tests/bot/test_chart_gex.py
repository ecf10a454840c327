"""The gamma picture: strike bars on their own axis, the levels and time zone titled."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.gex_plot import gamma_figure, plot_gamma_profile
from engine.errors import UserInputError
from engine.gex import GexResult, compute_gex

plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(scope="module")
def result(raw_data_dir: Path) -> GexResult:
    from sources.providers.chain import read_chain_file

    snap = read_chain_file(raw_data_dir / "daggerok_options-desk" / "IWM_chain_2026-07-12.json")
    return compute_gex(snap.contracts, snap.spot, snap.as_of)


def test_bars_have_their_own_axis_and_the_title_names_the_levels(result: GexResult) -> None:
    fig = gamma_figure(result, title="IWM")
    try:
        axes = {ax.get_label(): ax for ax in fig.axes}
        profile, strikes = axes["profile"], axes["strikes"]
        assert not profile.patches  # the curve's axis carries no bars
        lo, hi = result.profile_spots[0], result.profile_spots[-1]
        shown = result.by_strike[(result.by_strike.index >= lo) & (result.by_strike.index <= hi)]
        assert len(strikes.patches) == 2 * len(shown)  # a call and a put bar per strike
        tallest = max(abs(p.get_height()) for p in strikes.patches)
        low, high = strikes.get_ylim()
        assert tallest > 0.5 * (high - low)  # the bars fill their axis, not a sliver of it
        title = profile.get_title()
        assert "2026-07-12 06:26 EDT" in title
        assert "net GEX -$2.12B per 1% move" in title
        assert f"zero-gamma flip {result.flip_level:.2f}" in title
        assert "call wall 300" in title and "put wall 290" in title
    finally:
        plt.close(fig)


def test_the_picture_is_written_or_a_clear_error(result: GexResult, tmp_path: Path) -> None:
    path = plot_gamma_profile(result, tmp_path / "gex.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UserInputError, match="cannot write the plot"):
        plot_gamma_profile(result, tmp_path / "missing" / "gex.png")
    assert not plt.get_fignums()
