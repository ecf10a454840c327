"""``signals``, ``explain``, ``audit``, ``scorecard``, ``status`` and ``help``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discord.ext import commands

from bot.discord_bot.embeds import split_text, text_embeds
from bot.discord_bot.guards import COMMAND_OPTIONS, rate_limited, safe
from bot.narrator.safety import escape_structure
from bot.views import tables
from engine.errors import UserInputError

if TYPE_CHECKING:
    from bot.discord_bot.app import AnalystBot

HELP = """\
`{p}forecast` - the forecast for tomorrow and the next 5 days, with a chart
`{p}ask <question>` - a follow-up question (or reply to a forecast message)
`{p}signals` - every rule, whether it fires today and why
`{p}explain <rule>` - what a rule means, today's values, its measured record
`{p}audit` - each playbook claim against its measured record
`{p}scorecard` - the live track record of past forecasts
`{p}chart` - the chart alone
`{p}status` - data freshness, model in use, token use, next scheduled post
`{p}schedule [on|off] [HH:MM] [time zone]` - the morning post here (Manage Server)
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
    @rate_limited()
    async def explain(self, ctx: commands.Context[Any], *, rule: str) -> None:
        await ctx.defer()  # slash invocations must be answered within 3 s
        from bot.narrator.answer import find_rule, offline_answer

        state = await self._state()
        found = find_rule(rule[:100], state)
        if found is None:
            names = ", ".join(r.name for r in state.rules)
            raise UserInputError(f"no rule called '{rule[:60]}'. Rules: {names}")
        text = offline_answer(found.name, state).text
        embeds = text_embeds(f"{found.name} (Tier {found.tier})", text)
        await ctx.send(embeds=embeds[:10])

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
        await ctx.defer()  # slash invocations must be answered within 3 s
        bot = self.bot
        state = await self._state()
        settings = bot.settings
        model = settings.openai_model if settings.openai_api_key else "offline template"
        lines = [f"data as of {state.as_of}" + (" (synthetic demo)" if state.synthetic else "")]
        for p in state.provenance:
            age = f", {p.stale_days} trading days old" if (p.stale_days or 0) > 1 else ""
            lines.append(f"  {p.series}: {p.source}, last {p.last_date}{age}")
        lines.append(f"narrator: {model}")
        if settings.openai_api_key:
            from bot.narrator.cache import ReplyCache

            cache = ReplyCache(settings.database)
            try:
                day = bot.clock().date().isoformat()
                lines.append(
                    f"model tokens today: {cache.tokens_on(day)} of "
                    f"{settings.llm_daily_token_budget}"
                )
            finally:
                cache.close()
        schedule_cog = bot.get_cog("ScheduleCog")
        nxt = schedule_cog.next_post_text(ctx.channel.id) if schedule_cog else None  # type: ignore[attr-defined]
        lines.append(f"next scheduled post here: {nxt or 'none'}")
        for part in _code("\n".join(lines)):
            await ctx.send(part)

    @commands.hybrid_command(name="help", description="What this bot can do")  # type: ignore[arg-type]  # discord.py's decorator typing
    async def help(self, ctx: commands.Context[Any]) -> None:
        await ctx.send(HELP.format(p=self.bot.settings.discord_prefix))


async def setup(bot: AnalystBot) -> None:
    await bot.add_cog(InfoCog(bot))
