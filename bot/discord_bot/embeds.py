"""Formatting reports for Discord, within its limits.

Limits: 4096 characters in an embed description, 256 in a title, 2048 in a footer,
6000 across all embeds of one message, 10 embeds per message. Long text is split at
line boundaries (a line longer than the limit at word boundaries), never mid-word.
Every title, description and footer has its mentions neutralised, and one report is at
most :data:`MAX_REPORT_MESSAGES` messages: a runaway text is cut with a mark, never
posted as a flood.
"""

from __future__ import annotations

import discord

from bot.discord_bot.guards import for_members, member_lines
from bot.narrator.models import Report
from bot.narrator.safety import discord_text
from bot.views.fmt import num
from engine.state import MarketState, WarningCode

#: Warnings a reader of the footer must see: the data is behind.
_FOOTER_CODES = (WarningCode.STALE, WarningCode.PRICES_BEHIND)

DESCRIPTION_LIMIT = 4096
MESSAGE_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
TITLE_LIMIT = 256
FOOTER_LIMIT = 2048
CHUNK = 3500  # leaves room for the title and footer inside the 6000 per message
#: Most messages one report or answer may take; more text is cut with a mark.
MAX_REPORT_MESSAGES = 4
TRUNCATION_MARK = "… (cut: the full text is too long for Discord)"

COLOURS = {"Bullish": 0x1A9850, "Bearish": 0xD73027, "Neutral": 0x7F8C8D}


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, split at newlines, then at spaces."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        pieces.append(current)
    return [p for p in pieces if p.strip()]


def footer_text(state: MarketState) -> str:
    stale = [for_members(w.text) for w in state.warnings if w.code in _FOOTER_CODES]
    parts = [f"Data as of {state.as_of}"]
    if state.synthetic:
        parts.append("SYNTHETIC DEMO DATA")
    parts.extend(stale[:2])
    parts.append("Not financial advice")
    return " · ".join(parts)[:FOOTER_LIMIT]


def text_embeds(
    title: str, text: str, *, colour: int = COLOURS["Neutral"], footer: str | None = None
) -> list[discord.Embed]:
    """Embeds carrying ``text``; the title on the first, the footer on the last.

    At most :data:`MAX_REPORT_MESSAGES` messages' worth (one embed each): the rest is cut.
    """
    chunks = split_text(discord_text(text), CHUNK) or ["(empty)"]
    if len(chunks) > MAX_REPORT_MESSAGES:
        chunks = chunks[:MAX_REPORT_MESSAGES]
        chunks[-1] = chunks[-1][: CHUNK - len(TRUNCATION_MARK) - 1] + "\n" + TRUNCATION_MARK
    embeds = []
    for i, chunk in enumerate(chunks):
        embed = discord.Embed(description=chunk, colour=colour)
        if i == 0:
            embed.title = discord_text(title)[:TITLE_LIMIT]
        embeds.append(embed)
    if footer:
        embeds[-1].set_footer(text=discord_text(footer)[:FOOTER_LIMIT])
    return embeds


def message_parts(text: str, limit: int) -> list[str]:
    """Plain messages for ``text`` (mentions neutralised), at most MAX_REPORT_MESSAGES."""
    parts = split_text(discord_text(text), limit)
    if len(parts) > MAX_REPORT_MESSAGES:
        parts = parts[:MAX_REPORT_MESSAGES]
        parts[-1] = parts[-1][: limit - len(TRUNCATION_MARK) - 1] + "\n" + TRUNCATION_MARK
    return parts


def member_text(report: Report) -> str:
    """The report as members read it: operator hints in notes and warnings left out
    (a note that is nothing but a hint is dropped; the log has it in full)."""
    from bot.views.report import render_report

    state = report.state
    warnings = tuple(w.model_copy(update={"text": for_members(w.text)}) for w in state.warnings)
    shown = state.model_copy(update={"warnings": tuple(w for w in warnings if w.text)})
    notes = tuple(n for n in (for_members(note) for note in report.notes) if n)
    return member_lines(render_report(shown, report.narrative, notes))


def report_embeds(report: Report) -> list[discord.Embed]:
    state = report.state
    title = (
        f"{state.ticker} forecast: {state.tomorrow.call} tomorrow{_range_note(state)}, "
        f"{state.next_5_days.flavour} over 5 days"
    )
    return text_embeds(
        title,
        member_text(report),
        colour=COLOURS[state.next_5_days.call],
        footer=footer_text(state),
    )


def _range_note(state: MarketState) -> str:
    """' (68% range 227.35-231.01)' for tomorrow, or '' before there is a range."""
    move = state.tomorrow.move
    band = move.band(0.68) if move is not None else None
    if band is None:
        return ""
    return f" (68% range {num(band.price_low)}-{num(band.price_high)})"


def batches(embeds: list[discord.Embed]) -> list[list[discord.Embed]]:
    """Group embeds into messages within the per-message limits."""
    out: list[list[discord.Embed]] = []
    size = 0
    for embed in embeds:
        n = len(embed)
        if not out or size + n > MESSAGE_LIMIT or len(out[-1]) >= EMBEDS_PER_MESSAGE:
            out.append([])
            size = 0
        out[-1].append(embed)
        size += n
    return out
