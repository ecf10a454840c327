"""Buttons under a forecast (Explain signals, Chart, Levels, Ask) and the Ask modal.

The buttons keep working after a restart: each is a :class:`discord.ui.DynamicItem`
whose ``custom_id`` is ``iwm:<action>:<as-of day>`` (see :data:`TEMPLATE`), registered
once in the bot's ``setup_hook``; the view has no timeout. A click answers about the
forecast's own day, so a button under last week's post shows last week's signals.

Answers to clicks are seen only by the person who clicked, except the answer to a
question asked through the modal, which goes to the channel (or the forecast's thread)
like any follow-up, remembered for that person there.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_bot.embeds import COLOURS, split_text
from bot.discord_bot.guards import SORRY, cooldown_text, delete_placeholder, safe
from bot.narrator.safety import escape_structure, quote_line
from bot.views import tables
from bot.views.levels import gex_lines, levels_block
from engine.errors import AnalystError, UserInputError

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot
    from engine.state import MarketState

log = logging.getLogger(__name__)

#: action -> (label, emoji), in the order they appear under the forecast.
ACTIONS: dict[str, tuple[str, str]] = {
    "signals": ("Explain signals", "🔎"),
    "chart": ("Chart", "📈"),
    "levels": ("Levels", "📏"),
    "ask": ("Ask", "💬"),
}
TEMPLATE = r"iwm:(?P<action>signals|chart|levels|ask):(?P<day>\d{4}-\d{2}-\d{2})"
CHART_NAME = "chart.png"
REPLY_LIMIT = 1900
#: The most characters Discord lets a text input take.
MODAL_MAX = 4000


def custom_id(action: str, day: dt.date) -> str:
    return f"iwm:{action}:{day.isoformat()}"


class ForecastButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    """One button under a forecast; what it does and for which day is in its custom_id."""

    def __init__(self, action: str, day: dt.date) -> None:
        label, emoji = ACTIONS[action]
        style = discord.ButtonStyle.primary if action == "ask" else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=custom_id(action, day)
            )
        )
        self.action = action
        self.day = day

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ForecastButton:
        try:
            day = dt.date.fromisoformat(match["day"])
        except ValueError:  # matches the pattern but is no date: answer about today
            day = dt.date.max
        return cls(match["action"], day)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await on_button(interaction, self.action, self.day)


def forecast_view(day: dt.date) -> discord.ui.View:
    """The buttons under the forecast of ``day`` (no timeout: they outlive restarts)."""
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(ForecastButton(action, day))
    return view


async def reply(interaction: discord.Interaction[Any], **kwargs: Any) -> None:
    """Answer seen only by the user: the response, or a follow-up once deferred."""
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(ephemeral=True, **kwargs)


async def private_error(
    interaction: discord.Interaction[Any], text: str, *, public_placeholder: bool
) -> None:
    """An error seen only by the user, also after a public deferral: Discord would turn
    the first follow-up into that public "thinking…" placeholder, so it is deleted first."""
    if public_placeholder:
        await delete_placeholder(interaction)
    await reply(interaction, content=text)


def _state_for(bot: AnalystBot, day: dt.date) -> MarketState:
    req = bot.data_request()
    return bot.service.state(req, None if day == dt.date.max else day)


def _chart_for(bot: AnalystBot, day: dt.date) -> bytes:
    req = bot.data_request()
    state = _state_for(bot, day)
    png: bytes = bot.charts.get(bot.service.prepared(req), state)
    return png


def _code(text: str) -> list[str]:
    return [f"```\n{p}\n```" for p in split_text(escape_structure(safe(text)), REPLY_LIMIT)]


async def on_button(interaction: discord.Interaction[Any], action: str, day: dt.date) -> None:
    """What a click does; known errors get a one-line answer, the rest is logged."""
    bot: AnalystBot = interaction.client
    try:
        if action == "ask":
            limit = bot.settings.discord_max_input_chars
            await interaction.response.send_modal(AskModal(day, limit))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        if action == "chart":
            png = await bot.run_blocking(_chart_for, bot, day)
            embed = discord.Embed(
                title=f"IWM chart, data to {_day(day)}", colour=COLOURS["Neutral"]
            )
            embed.set_image(url=f"attachment://{CHART_NAME}")
            await reply(interaction, embed=embed, file=discord.File(io.BytesIO(png), CHART_NAME))
            return
        state = await bot.run_blocking(_state_for, bot, day)
        if action == "signals":
            for part in _code(tables.signals_text(state))[:3]:
                await reply(interaction, content=part)
        else:
            text = levels_block(state) + "\n\n" + "\n".join(gex_lines(state)[1:])
            embed = discord.Embed(
                title=f"{state.ticker} levels for the session after {state.as_of}",
                description=safe(text)[:4000],
                colour=COLOURS["Neutral"],
            )
            await reply(interaction, embed=embed)
    except AnalystError as err:
        await reply(interaction, content=safe(f"⚠️ {err}"))
    except Exception:
        log.exception("the %s button failed", action)
        await reply(interaction, content=SORRY)


def _day(day: dt.date) -> str:
    return "today" if day == dt.date.max else day.isoformat()


class AskModal(discord.ui.Modal, title="Ask about this forecast"):
    """One question about the forecast of ``day``; answered in the channel or thread."""

    question: discord.ui.TextInput[AskModal] = discord.ui.TextInput(
        label="Your question",
        style=discord.TextStyle.paragraph,
        placeholder="e.g. Why is GEX_Negative not firing?",
        min_length=2,
    )

    def __init__(self, day: dt.date, max_chars: int) -> None:
        super().__init__()
        self.day = day
        self.question.max_length = min(max_chars, MODAL_MAX)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        bot: AnalystBot = interaction.client
        question = self.question.value.strip()
        cog: Any = bot.get_cog("FollowupCog")
        deferred = False
        try:
            if not question:
                raise UserInputError("the question is empty")
            cog.check_length(question)
            retry = cog.retry_after(interaction.user.id)
            if retry:
                await reply(interaction, content=cooldown_text(retry))
                return
            await interaction.response.defer(thinking=True)
            deferred = True
            channel_id = interaction.channel_id or interaction.user.id
            as_of = None if self.day == dt.date.max else self.day
            parts = await cog.answer(channel_id, interaction.user.id, question, as_of=as_of)
        except AnalystError as err:
            await private_error(interaction, safe(f"⚠️ {err}"), public_placeholder=deferred)
            return
        except Exception:
            log.exception("the Ask modal failed")
            await private_error(interaction, SORRY, public_placeholder=deferred)
            return
        quoted = quote_line(question)
        for i, part in enumerate(parts):
            await interaction.followup.send(f"{quoted}\n{part}" if i == 0 else part)
