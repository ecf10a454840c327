"""The data commands driven through their argparse handlers, against loopback servers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
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


# --- import: atomic, no silent overwrite, FINRA files and folders -----------------------
def _dump(db: Path) -> str:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def _main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    from bot.cli import main

    monkeypatch.setenv("IWM_DB_PATH", str(tmp_path / "db.sqlite3"))
    return main(list(argv))


def test_import_is_all_files_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.sources.corpus import healthy

    good = healthy(tmp_path / "good")
    assert _main(tmp_path, monkeypatch, "import", str(good["prices"])) == 0
    before = _dump(tmp_path / "db.sqlite3")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    capsys.readouterr()
    assert _main(tmp_path, monkeypatch, "import", str(good["vix"]), str(binary)) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: binary.csv is binary, not a CSV file (a NUL byte on line 1)"
    assert _dump(tmp_path / "db.sqlite3") == before  # the VIX file was not committed


def test_import_never_overwrites_a_different_history_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.sources.corpus import BROKEN, healthy

    good = healthy(tmp_path / "good")
    assert _main(tmp_path, monkeypatch, "import", str(good["prices"])) == 0
    short = tmp_path / "too_short.csv"
    short.write_bytes(next(c for c in BROKEN if c.name == "too_short.csv").make())
    db = tmp_path / "db.sqlite3"
    before = _dump(db)
    capsys.readouterr()
    assert _main(tmp_path, monkeypatch, "import", "--kind", "prices", str(short)) == 2
    err = capsys.readouterr().err
    assert "too_short.csv: prices differs from the store on 8 days" in err
    assert "--replace" in err and _dump(db) == before
    assert _main(tmp_path, monkeypatch, "import", "--dry-run", "--replace", str(short)) == 0
    out = capsys.readouterr().out
    assert "would replace: too_short.csv" in out and "nothing was written" in out
    assert _dump(db) == before
    assert _main(tmp_path, monkeypatch, "import", "--replace", str(short)) == 0
    with Store(db) as store:
        bars = store.read("prices")
    assert len(bars) == 150  # the rows the short file lacks are kept
    replaced = pd.read_csv(short, index_col="date", parse_dates=True)
    assert (bars.loc[replaced.index, "close"] == replaced["close"]).all()


def test_import_keeps_columns_a_file_lacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "db.sqlite3"
    day = pd.DatetimeIndex(["2026-10-29", "2026-10-30"], name="date")
    with Store(db) as store:
        ohlc = pd.DataFrame(
            {
                "open": [16.0, 17.0],
                "high": [18.0, 19.0],
                "low": [15.0, 16.0],
                "close": [17.0, 18.0],
            },
            index=day,
        )
        store.upsert("vix", ohlc, source="cboe")
    closes = tmp_path / "vix_closes.csv"
    closes.write_text("date,vix\n2026-10-29,17.0\n2026-10-30,18.0\n")
    assert _main(tmp_path, monkeypatch, "import", str(closes)) == 0
    with Store(db) as store:
        assert store.read("vix")["open"].tolist() == [16.0, 17.0]


def _finra_files(folder: Path, days: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    template = (FIX / "finra_cnms_sample_20260105.txt").read_bytes()
    paths = []
    for ymd in days:
        path = folder / f"CNMSshvol{ymd}.txt"
        path.write_bytes(template.replace(b"20260105", ymd.encode()))
        paths.append(path)
    return paths


def test_finra_files_and_folders_as_dark_pool_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.service import AnalystService, DataRequest
    from tests.sources.corpus import healthy

    days = ["20261028", "20261029", "20261030"]
    folder = tmp_path / "finra"
    files = _finra_files(folder, days)
    assert _main(tmp_path, monkeypatch, "import", str(folder)) == 0
    with Store(tmp_path / "db.sqlite3") as store:
        dp = store.read("dark_pool")
    assert [d.strftime("%Y%m%d") for d in dp.index] == days
    assert dp["ratio"].iloc[0] == pytest.approx(2085904 / (3700403 - 2085904))
    good = healthy(tmp_path / "good")
    service = AnalystService(load_settings(IWM_DB_PATH=str(tmp_path / "db.sqlite3")))
    for given in ((folder,), tuple(files)):
        state = service.state(DataRequest(csv=good["prices"], dark_pool=given))
        assert state.regime.dark_pool.ratio == pytest.approx(2085904 / (3700403 - 2085904))
    capsys.readouterr()
    assert _main(tmp_path, monkeypatch, "forecast", "--offline", "--csv", str(good["prices"]),
                 "--darkpool", *map(str, files)) == 0  # fmt: skip
    assert "dark_pool from CNMSshvol20261028.txt" in capsys.readouterr().out


def test_guess_kind_on_encodings_never_crashes(tmp_path: Path) -> None:
    cases = {
        "u16.csv": "date,close\n2024-01-02,200\n".encode("utf-16"),
        "latin.csv": "date,close (\u20ac)\n".encode("cp1252"),
        "gz.csv": b"\x1f\x8b\x08\x00rest",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InputDataError, match=name.replace(".", r"\.")):
            data_cmds.guess_kind(path)
    finra = _finra_files(tmp_path, ["20260105"])[0]
    assert data_cmds.guess_kind(finra) == "dark_pool"
    chain = FIX / "cboe_iwm_chain.json"
    assert data_cmds.guess_kind(chain) == "chain"


def test_chain_url_secrets_are_never_stored_or_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve() as server:
        serve_world(server)
        settings = _settings(tmp_path, server).model_copy(
            update={"chain_url": server.url("/options/{symbol}.json?apikey=s3cret#frag")}
        )
        args = _parse("update", "--only", "gex")
        data_cmds.cmd_update(args, settings, today=TODAY)
        args = _parse("gex", "--json")
        data_cmds.cmd_gex(args, settings)
    out = capsys.readouterr().out
    assert "s3cret" not in out and '"source": "http://127.0.0.1:' in out
    with Store(settings.database) as store:
        sources = set(store.read("gex")["source"])
    assert sources == {f"chain:{server.url('/options/IWM.json')}"}
    assert "s3cret" not in _dump(settings.database)


def test_future_rows_of_an_older_store_are_left_out_and_pruned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store that let a 2031 row in (before dates were checked) never dates a forecast
    in the future; 'prune' removes such rows."""
    import datetime as dt

    from bot.service import AnalystService, DataRequest
    from engine.state import WarningCode
    from tests.sources.corpus import END, healthy_frames

    db = tmp_path / "db.sqlite3"
    prices = healthy_frames()["prices"]
    future = prices.iloc[[-1]].copy()
    future.index = pd.DatetimeIndex([pd.Timestamp("2031-02-14")], name="date")
    with Store(db) as store:
        store.upsert("prices", pd.concat([prices, future]), source="old version")
    clock = dt.datetime.combine(END, dt.time(22), tzinfo=dt.UTC)
    state = AnalystService(load_settings(IWM_DB_PATH=str(db)), clock=lambda: clock).state(
        DataRequest()
    )
    assert state.as_of == END
    assert any(w.code == WarningCode.FUTURE_ROWS for w in state.warnings)
    capsys.readouterr()
    assert _main(tmp_path, monkeypatch, "prune", "--dry-run", "--after", END.isoformat()) == 0
    assert "would remove 1 prices dated after 2026-10-30" in capsys.readouterr().out
    assert _main(tmp_path, monkeypatch, "prune", "--after", END.isoformat()) == 0
    with Store(db) as store:
        assert store.last_date("prices") == END


def test_a_real_one_line_chain_file_is_imported_as_a_snapshot(
    raw_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real chain files are a single 1 MB line: read as JSON, not through the CSV door."""
    chain = raw_data_dir / "daggerok_options-desk" / "IWM_chain_2026-07-12.json"
    for kind in ((), ("--kind", "gex"), ("--kind", "chain")):
        assert _main(tmp_path, monkeypatch, "import", *kind, str(chain)) == 0
    with Store(tmp_path / "db.sqlite3") as store:
        gex = store.read("gex")
    assert list(gex.index.strftime("%Y-%m-%d")) == ["2026-07-10"]  # the session it shows
    assert (gex["underlying"].iloc[0], gex["method"].iloc[0]) == ("IWM", "chain")
    assert gex["net_gex"].iloc[0] == pytest.approx(-2.12e9, rel=0.01)
    assert _main(tmp_path, monkeypatch, "import", "--kind", "prices", str(chain)) == 2


def test_alert_text_is_printed_without_markup(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt
    import io

    from rich.console import Console

    import bot.alerts
    from bot.cli.data_cmds import print_alerts
    from engine.alerts import AlertEvent

    day = dt.date(2026, 1, 2)
    prev = dt.date(2025, 12, 31)
    event = AlertEvent(
        kind="rule_started", key="rule:X", as_of=day, previous=prev, text="X [/x] starts"
    )
    found = bot.alerts.LatestAlerts(day, day, (event,))
    monkeypatch.setattr(bot.alerts, "latest_alerts", lambda *a: found)
    out = io.StringIO()
    print_alerts(Console(file=out, width=100), settings)
    assert "alert 2026-01-02: X [/x] starts" in out.getvalue()
