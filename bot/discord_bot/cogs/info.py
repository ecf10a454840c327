"""``signals``, ``explain``, ``gex``, ``audit``, ``scorecard``, ``status`` and ``help``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_bot.embeds import split_text, text_embeds
from bot.discord_bot.guards import COMMAND_OPTIONS, bot_can, for_members, rate_limited, safe
from bot.narrator.safety import escape_structure
from bot.status import data_lines, token_line
from bot.views import tables
from bot.views.levels import gex_lines
from engine.errors import AnalystError, UserInputError

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot
    from engine.gex import GexResult
    from engine.state import MarketState

log = logging.getLogger(__name__)

#: Discord shows at most 25 autocomplete choices.
MAX_CHOICES = 25

HELP = """\
`{p}forecast` - the forecast for tomorrow and the next 5 days, with a chart
`{p}ask <question>` - a follow-up question (or reply to a forecast message)
`{p}signals` - every rule, whether it fires today and why
`{p}explain <rule>` - what a rule means, today's values, its measured record
`{p}gex` - net GEX and its series, flip, call/put walls, expected move
`{p}audit` - each playbook claim against its measured record
`{p}scorecard` - the live track record of past forecasts
`{p}chart` - the chart alone
`{p}status` - data freshness, next scheduled post (managers also see the setup)
`{p}schedule [on|off] [HH:MM] [time zone]` - the morning post here (Manage Server);
  with no argument it shows the current setting
`{p}alerts [on|off|status]` - alerts here: Tier 1 starts, GEX sign, VIX and level
  crossings (Manage Server to turn on or off)
A forecast opens a thread for follow-ups and has buttons: signals, chart, levels, ask.
Every figure is measured on the data in use. Not financial advice."""


def _code(text: str) -> list[str]:
    # A fence inside the text (a rule name from a user's playbook) would end the block.
    return [f"```\n{part}\n```" for part in split_text(escape_structure(safe(text)), 1900)]


class InfoCog(commands.Cog):
    def __init__(self, bot: AnalystBot) -> None:
        self.bot = bot

    async def _state(self) -> Any:
        req = await self.bot.run_blocking(self.bot.data_request)
        return await self.bot.run_blocking(self.bot.service.state, req)

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="signals", description="Every rule and its deciding values", **COMMAND_OPTIONS
    )
    @rate_limited()
    async def signals(self, ctx: commands.Context[Any]) -> None:
        async with ctx.typing():
            state = await self._state()
        for part in _code(tables.signals_text(state)):
            await ctx.send(part)

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="explain", description="Explain one playbook rule", **COMMAND_OPTIONS
    )
    @app_commands.describe(rule="A playbook rule, e.g. Golden_Setup (start typing to pick one)")
    @bot_can(embed=True)
    @rate_limited()
    async def explain(self, ctx: commands.Context[Any], *, rule: str) -> None:
        from bot.narrator.answer import find_rule, find_rule_name, offline_answer

        # Checked before deferring, so a slash user alone sees the mistake; the same
        # lookup as below (names, nicknames such as "golden setup", distinctive words).
        rules = await self.bot.run_blocking(self.bot.service.rule_names)
        names = [n for n, _, _ in rules]
        pairs = [(n, nick) for n, nick, _ in rules]
        if ctx.interaction is not None and find_rule_name(rule[:100], pairs) is None:
            raise UserInputError(f"no rule called '{rule[:60]}'. Rules: {', '.join(names)}")
        await ctx.defer()  # slash invocations must be answered within 3 s
        state = await self._state()
        found = find_rule(rule[:100], state)
        if found is None:
            raise UserInputError(f"no rule called '{rule[:60]}'. Rules: {', '.join(names)}")
        text = offline_answer(found.name, state).text
        embeds = text_embeds(f"{found.name} (Tier {found.tier})", text)
        await ctx.send(embeds=embeds[:10])

    @explain.autocomplete("rule")
    async def rule_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Rule names from the playbook in use, matching what was typed (name or nickname)."""
        typed = current.strip().lower()
        rules = await self.bot.run_blocking(self.bot.service.rule_names)
        out = []
        for name, nickname, tier in rules:
            if typed in name.lower() or (nickname and typed in nickname.lower()):
                label = f"{name} (Tier {tier}{', ' + nickname if nickname else ''})"
                out.append(app_commands.Choice(name=label[:100], value=name))
        return out[:MAX_CHOICES]

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="gex", description="Net GEX, flip, call/put walls, expected move", **COMMAND_OPTIONS
    )
    @rate_limited()
    async def gex(self, ctx: commands.Context[Any]) -> None:
        async with ctx.typing():
            state = await self._state()
            chain = await self._chain()
        for part in _code("\n".join(gex_lines(state, chain))):
            await ctx.send(part)

    async def _chain(self) -> GexResult | None:
        """The configured chain's GEX (DISCORD_CHAIN_FILE), or None; a bad file is logged
        for the operator and the stored figures are shown."""
        path = self.bot.settings.discord_chain_file
        if path is None:
            return None
        try:
            return await self.bot.run_blocking(self.bot.service.chain_gex, path)
        except AnalystError as exc:
            log.warning("DISCORD_CHAIN_FILE %s is not used: %s", path, exc)
            return None

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="audit", description="Playbook claims against measured records", **COMMAND_OPTIONS
    )
    @rate_limited()
    async def audit(self, ctx: commands.Context[Any]) -> None:
        async with ctx.typing():
            req = await self.bot.run_blocking(self.bot.data_request)
            table = await self.bot.run_blocking(self.bot.service.audit, req)
        text = tables.render_text(tables.audit_table(table), compact=True)
        for part in _code(text):
            await ctx.send(part)

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="scorecard", description="Live track record of past forecasts", **COMMAND_OPTIONS
    )
    @rate_limited()
    async def scorecard(self, ctx: commands.Context[Any]) -> None:
        await ctx.defer()  # slash invocations must be answered within 3 s
        req = await self.bot.run_blocking(self.bot.data_request)
        card = await self.bot.run_blocking(self.bot.service.scorecard, req)
        parts = [
            tables.scorecard_summary(
                card.recorded, card.filled, card.pending, card.synthetic_excluded
            )
        ]
        if card.scores:
            scores = tables.scores_table(card.scores, "Live track record")
            parts.append(tables.render_text(scores, compact=True))
        for part in _code("\n\n".join(parts)):
            await ctx.send(part)

    @commands.hybrid_command(  # type: ignore[arg-type]  # discord.py's decorator typing
        name="status", description="Data freshness, model, token use", **COMMAND_OPTIONS
    )
    @rate_limited()
    async def status(self, ctx: commands.Context[Any]) -> None:
        # Answered privately to a slash user: it is about what this person may see.
        await ctx.defer(ephemeral=True)  # slash invocations must be answered within 3 s
        state = await self._state()
        manager = is_manager(ctx)
        # A prefix command answers in the channel for everyone to read: the manager-only
        # part (setup hints, warnings as they are, token use) goes by DM there.
        public = ctx.interaction is None and ctx.guild is not None
        if not (manager and public):
            for part in _code("\n".join(self.status_lines(ctx, state, manager))):
                await ctx.send(part, ephemeral=True)
            return
        for part in _code("\n".join(self.status_lines(ctx, state, False))):
            await ctx.send(part)
        try:
            for part in _code("\n".join(self.status_lines(ctx, state, True))):
                await ctx.author.send(part)
        except discord.HTTPException:  # DMs closed (Forbidden) or failed
            await ctx.send("Use /status for set-up details (seen only by you).")
        else:
            await ctx.send("Set-up details were sent to you by DM.")

    def status_lines(
        self, ctx: commands.Context[Any], state: MarketState, manager: bool
    ) -> list[str]:
        """The status report; managers also get setup hints, raw warnings, token use."""
        bot = self.bot
        settings = bot.settings
        model = settings.openai_model if settings.openai_api_key else "offline template"
        lines = data_lines(state)
        lines.append(f"narrator: {model}")
        for w in state.warnings:
            text = w.text if manager else for_members(w.text)
            if text:
                lines.append(f"  warning: {text}")
        if manager:
            lines.extend(f"  setup: {note}" for note in operator_notes(bot, state.synthetic))
        if settings.openai_api_key and manager:
            lines.append(token_line(settings, bot.clock().date()))
        schedule_cog = bot.get_cog("ScheduleCog")
        nxt = schedule_cog.next_post_text(ctx.channel.id) if schedule_cog else None  # type: ignore[attr-defined]
        lines.append(f"next scheduled post here: {nxt or 'none'}")
        alerts_cog = bot.get_cog("AlertsCog")
        if alerts_cog is not None and ctx.guild is not None:
            lines.append(f"alerts here: {alerts_cog.summary(ctx.channel.id)}")  # type: ignore[attr-defined]
        return lines

    @commands.hybrid_command(name="help", description="What this bot can do")  # type: ignore[arg-type]  # discord.py's decorator typing
    async def help(self, ctx: commands.Context[Any]) -> None:
        await ctx.send(HELP.format(p=self.bot.settings.discord_prefix))


def is_manager(ctx: commands.Context[Any]) -> bool:
    """True for a member with Manage Server in a server (not in a DM).

    ``ctx.permissions`` is what Discord resolved for a slash command's user, and the
    channel's permissions for a prefix command's author."""
    return ctx.guild is not None and bool(ctx.permissions.manage_guild)


def operator_notes(bot: AnalystBot, synthetic: bool) -> list[str]:
    """What whoever runs the bot may want to change; shown to managers only."""
    from bot.narrator.factory import NO_KEY_NOTE

    settings = bot.settings
    notes = []
    if settings.openai_api_key is None:
        notes.append(NO_KEY_NOTE)
    if synthetic:
        notes.append(
            "the bot shows the synthetic demo: run 'iwm-analyst update' (or set "
            "DISCORD_DATA_CSV) to use real data"
        )
    if settings.discord_chain_file is None:
        notes.append("set DISCORD_CHAIN_FILE to a saved option chain for GEX by expiry in gex")
    return notes


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(InfoCog(bot))
