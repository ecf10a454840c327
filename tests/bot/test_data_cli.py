"""The data commands driven through their argparse handlers, against loopback servers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bot.cli import data_cmds
from bot.settings import Settings, load_settings
from engine.errors import InputDataError, UserInputError
from sources.store import Store
from tests.sources.conftest import LoopbackServer, Reply, serve
from tests.sources.test_update import FINRA_PREFIX, TODAY, serve_world

FIX = Path(__file__).parents[1] / "sources" / "fixtures"


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    data_cmds.register(parser.add_subparsers())
    return parser.parse_args(argv)


def _settings(tmp_path: Path, server: LoopbackServer | None = None) -> Settings:
    urls = {}
    if server is not None:
        urls = {
            "IWM_YAHOO_CHART_URL": server.url("/chart/{symbol}"),
            "IWM_STOOQ_URL": server.url("/stooq"),
            "IWM_CBOE_VIX_URL": server.url("/VIX_History.csv"),
            "IWM_FINRA_URL": server.url(FINRA_PREFIX + "CNMSshvol{ymd}.txt"),
            "IWM_CHAIN_URL": server.url("/options/{symbol}.json"),
        }
    return load_settings(IWM_DATA_DIR=tmp_path, IWM_HTTP_TIMEOUT=1, **urls)


def test_gex_text_on_fixture_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse("gex", "--chain", str(FIX / "cboe_iwm_chain.json"))
    assert args.func(args, _settings(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "net GEX" in out and "zero-gamma flip" in out and "call wall" in out
    assert "1 gamma from iv" in out


def test_gex_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "profile.png"
    args = _parse("gex", "--chain", str(FIX / "cboe_iwm_chain.json"), "--json", "--plot", str(png))
    assert args.func(args, _settings(tmp_path)) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spot"] == 250.0 and data["contracts"] == 30
    assert sum(e["net_gex"] for e in data["by_expiry"]) == pytest.approx(data["net_gex"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gex_real_chain(
    raw_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = raw_data_dir / "daggerok_options-desk" / "IWM_chain_2026-07-12.json"
    args = _parse("gex", "--chain", str(chain), "--json")
    assert args.func(args, _settings(tmp_path)) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["contracts"] == 3224
    assert data["flip_level"] == pytest.approx(302.6, abs=0.1)
    assert (data["call_wall"], data["put_wall"]) == (300.0, 290.0)


def test_gex_bad_chain_file_is_a_friendly_error(tmp_path: Path) -> None:
    bad = tmp_path / "chain.json"
    bad.write_text("<html><body>blocked</body></html>")
    args = _parse("gex", "--chain", str(bad))
    with pytest.raises(InputDataError, match="HTML page"):
        args.func(args, _settings(tmp_path))


def test_update_prints_freshness_and_reports_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve() as server:
        serve_world(server)
        server.route("/options/IWM.json", Reply(status=403))
        settings = _settings(tmp_path, server)
        args = _parse("update", "--backfill-years", "1")
        status = data_cmds.cmd_update(args, settings, today=TODAY)
    out = capsys.readouterr().out
    assert status == 1  # the chain failed ...
    assert "failed" in out and "HTTP 403" in out
    with Store(settings.database) as store:  # ... and the others landed
        assert store.info("prices").rows == 20
        assert store.info("dark_pool").rows > 200
    assert "prices" in out and "fresh" in out


def test_update_rejects_bad_backfill(tmp_path: Path) -> None:
    args = _parse("update", "--backfill-years", "0")
    with pytest.raises(UserInputError):
        data_cmds.cmd_update(args, _settings(tmp_path), today=TODAY)


def test_guess_kind_from_columns(tmp_path: Path) -> None:
    cases = {
        "a.csv": ("date,open,high,low,close,volume\n", "prices"),
        "VIX_History.csv": ("DATE,OPEN,HIGH,LOW,CLOSE\n", "vix"),
        "VIX.csv": ("date,open,high,low,close,volume\n", "vix"),
        "DIX.csv": ("date,price,dix,gex\n", "gex"),
        "c.csv": ("date,gex\n", "gex"),
        "d.csv": ("date,dp_ratio\n", "dark_pool"),
    }
    for name, (header, kind) in cases.items():
        path = tmp_path / name
        path.write_text(header)
        assert data_cmds.guess_kind(path) == kind
    odd = tmp_path / "e.csv"
    odd.write_text("when,what\n")
    with pytest.raises(UserInputError, match="--kind"):
        data_cmds.guess_kind(odd)


def test_gex_times_are_exchange_time(
    raw_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The chain's UTC-04:00 stamp is written as New York time, with its zone's name."""
    chain = raw_data_dir / "daggerok_options-desk" / "IWM_chain_2026-07-12.json"
    png = tmp_path / "g.png"
    args = _parse("gex", "--chain", str(chain), "--plot", str(png))
    assert args.func(args, _settings(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "chain as of 2026-07-12 06:26 EDT" in out and "-$2.12B per 1% move" in out
    assert png.stat().st_size > 30_000
