"""Building the parts from Settings, in one place: providers, store, service, bot.

Entry points (the CLI commands, ``iwm-analyst bot``, the tests) call these; nothing
else reads settings to construct a part, and no module imports ``bot.cli``. The service
and the Discord bot get their dependencies injected, so a test can hand them fakes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.service import AnalystService
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot
    from sources.store import Store
    from sources.update import Providers

Clock = Callable[[], dt.datetime]

log = logging.getLogger(__name__)

#: glibc ``mallopt`` parameter number of ``M_ARENA_MAX`` (malloc.h).
_M_ARENA_MAX = -8
#: Malloc arenas a long-running process keeps (glibc's default is 8 per core).
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; True when the cap was set.

    Each thread that allocates gets its own arena by default, and each arena keeps the
    memory its thread freed; in the bot the worker threads that compute forecasts hold
    about 4 MB that way after 100 forecasts. Two arenas keep that memory shared, at no
    measurable cost in speed here (the threads mostly wait on one cached build). Call it
    before the process starts threads: arenas made earlier stay. A no-op (False) where
    the C library is not glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(arenas)))
    log.debug("malloc arenas capped at %d: %s", arenas, ok)
    return ok


def providers(settings: Settings) -> Providers:
    """The market-data providers, with any URL the settings override (others default)."""
    from sources.providers.chain import ChainProvider
    from sources.providers.finra import FinraProvider
    from sources.providers.http import HttpConfig
    from sources.providers.prices import PriceProvider
    from sources.providers.vix import VixProvider
    from sources.update import Providers

    http = HttpConfig(timeout=settings.http_timeout, deadline=max(60.0, settings.http_timeout * 4))

    def given(**urls: str | None) -> dict[str, str]:
        return {k: v for k, v in urls.items() if v}

    return Providers(
        prices=PriceProvider(
            symbol=settings.ticker,
            http=http,
            **given(yahoo_url=settings.yahoo_chart_url, stooq_url=settings.stooq_url),
        ),
        vix=VixProvider(
            http=http, **given(cboe_url=settings.cboe_vix_url, yahoo_url=settings.yahoo_chart_url)
        ),
        dark_pool=FinraProvider(
            symbol=settings.ticker,
            cache_dir=settings.data_dir / "raw" / "finra",
            http=http,
            **given(url_template=settings.finra_url),
        ),
        chain=ChainProvider(
            symbol=settings.ticker,
            fallback_url=settings.chain_fallback_url,
            http=http,
            **given(url=settings.chain_url),
        ),
    )


def open_store(settings: Settings) -> Store:
    """The market-data store in the settings' database (caller closes it)."""
    from sources.store import Store

    return Store(settings.database)


def service(settings: Settings, *, clock: Clock | None = None) -> AnalystService:
    """The service with the narrator the settings ask for and the real providers."""
    from bot.narrator.factory import NarratorChooser

    return AnalystService(
        settings,
        narrator_factory=NarratorChooser(clock),
        providers=lambda: providers(settings),
        clock=clock,
    )


def discord_bot(settings: Settings, *, clock: Clock | None = None) -> AnalystBot:
    """The Discord bot with its service, state database and chart cache built here.

    Caps the process's malloc arenas first (:func:`limit_malloc_arenas`): the bot is the
    one long-running process, and its resident memory is what matters there.
    """
    limit_malloc_arenas()
    from bot.chart import ChartCache
    from bot.discord_bot.app import AnalystBot
    from bot.discord_bot.persist import BotState

    return AnalystBot(
        settings,
        service(settings, clock=clock),
        state_db=BotState(settings.database),
        charts=ChartCache(),
        clock=clock,
    )
