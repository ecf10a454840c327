"""Model text is untrusted output: what makes it unsafe, and how it is made harmless.

A model can be steered by what it reads (a question, a conversation) into writing text
aimed at the people who see it: a mass mention, a phishing link dressed as an official
one, "ignore previous instructions", a wall of text. Two layers:

* :func:`unsafe_content` names what makes a reply unacceptable (mentions, links not on
  the allow-list, instructions aimed at a model or a reader); the narrator asks for one
  repair and otherwise uses the template. A rejected reply is never cached.
* :func:`clean_text` neutralises the same things in any text about to be shown (model
  text, but also rule names from a user's playbook or a question echoed in an error),
  so even text that slipped through cannot ping or link. :func:`discord_text` and
  :func:`thread_name` do the Discord-specific part for every message the bot sends.

Neutralising inserts a zero-width space (U+200B): ``@everyone`` stays readable but no
longer pings, a fence of back-ticks no longer opens a code block.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import urlsplit

ZWSP = "\u200b"

_MASS = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
#: ``<@123>`` users, ``<@!123>`` nicknames, ``<@&123>`` roles, ``<#123>`` channels,
#: ``</name:123>`` slash commands; also their digit-free look-alikes.
_MENTION = re.compile(r"<(@[!&]?|#|/)")
_MASKED = re.compile(r"\[([^\[\]\n]{0,300})\]\(\s*<?([^()\s<>]*)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_URL = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.\-]{1,15}://|\bwww\.|\bdiscord(?:app)?\.(?:gg|com/invite)/)"
    r"[^\s<>()\[\]]*"
)
_INJECTION = re.compile(
    r"(?i)\b("
    r"(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+)?"
    r"(previous|prior|above|earlier|system|original)\s+(instructions?|prompts?|rules?|messages?)"
    r"|system\s+prompt|developer\s+mode|jailbreak|you\s+are\s+now\s+(dan|free|unrestricted)"
    r"|new\s+instructions\s*:|<\|(im_start|im_end|system|endoftext)\|>"
    r"|(send|dm|message)\s+(me|us)\s+your\s+(password|token|key|seed)"
    r")"
)
_FENCE = re.compile(r"`{3,}")
_SPOILER = re.compile(r"\|\|")
#: Markdown that restructures a message when it opens a line: headings, subtext,
#: block quotes (``>>>`` swallows everything after it), list markers are harmless.
_LINE_START = re.compile(r"(?m)^(\s*)(#{1,3}\s|-#\s|>{1,3}\s?)")
_BLANK_RUN = re.compile(r"\n{3,}")
_TRUNCATED = " …"


def _host_allowed(url: str, allowed: Sequence[str]) -> bool:
    if not allowed:
        return False
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
    except ValueError:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("https", "http") or not host:
        return False
    return any(host == h or host.endswith("." + h) for h in allowed)


def neutralise_mentions(text: str) -> str:
    """``@everyone``, ``@here`` and ``<@…>``-style mentions can no longer ping."""
    text = _MASS.sub(lambda m: f"@{ZWSP}{m.group(1)}", text)
    return _MENTION.sub(lambda m: f"<{ZWSP}{m.group(1)}", text)


def strip_links(text: str, allowed: Sequence[str] = ()) -> str:
    """Masked links become their label; other links not on ``allowed`` are removed."""

    def masked(m: re.Match[str]) -> str:
        label, url = m.group(1), m.group(2)
        return m.group(0) if _host_allowed(url, allowed) else label

    def bare(m: re.Match[str]) -> str:
        return m.group(0) if _host_allowed(m.group(0), allowed) else "[link removed]"

    return _URL.sub(bare, _MASKED.sub(masked, text))


def escape_structure(text: str) -> str:
    """Markdown that would restructure an embed is broken up (fences, headings, quotes)."""
    text = _FENCE.sub(lambda m: ZWSP.join(m.group(0)), text)
    text = _SPOILER.sub(f"|{ZWSP}|", text)
    return _LINE_START.sub(lambda m: f"{m.group(1)}{ZWSP}{m.group(2)}", text)


def _printable(text: str) -> str:
    """Control and format characters out (bidi overrides can disguise a link)."""
    out = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf") and ch != ZWSP:
            continue
        else:
            out.append(ch)
    return "".join(out)


def cap(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with a mark."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - len(_TRUNCATED))
    cut = cut if cut > limit // 2 else limit - len(_TRUNCATED)
    return text[:cut].rstrip() + _TRUNCATED


def clean_text(text: str, *, limit: int | None = None, allowed_hosts: Sequence[str] = ()) -> str:
    """Model text made harmless to show anywhere: no pings, links, structure or flood."""
    text = _printable(text)
    text = strip_links(text, allowed_hosts)
    text = neutralise_mentions(text)
    text = escape_structure(text)
    text = _BLANK_RUN.sub("\n\n", text).strip()
    return cap(text, limit) if limit is not None else text


def unsafe_content(text: str, allowed_hosts: Sequence[str] = ()) -> list[str]:
    """Why ``text`` must not be shown as a model's reply (empty when it may)."""
    problems = []
    if _MASS.search(text) or _MENTION.search(text):
        problems.append("it mentions people, roles or channels")
    links = [m.group(2) for m in _MASKED.finditer(text)] + [m.group(0) for m in _URL.finditer(text)]
    if any(not _host_allowed(u, allowed_hosts) for u in links):
        problems.append("it contains links")
    if _INJECTION.search(text):
        problems.append("it contains instructions addressed to a model or a reader")
    return problems


def discord_text(text: str) -> str:
    """Any text the bot sends (template, engine, echoed input): mentions neutralised."""
    return neutralise_mentions(_printable(text))


THREAD_NAME_LIMIT = 100


def thread_name(text: str) -> str:
    """A thread name from any text: one line, no mentions or markdown, Discord's 100 chars."""
    line = " ".join(_printable(text).split())
    line = re.sub(r"[`*_~|>#\[\]()]", "", strip_links(line))
    return cap(neutralise_mentions(line), THREAD_NAME_LIMIT) or "IWM follow-up"


_MARKDOWN = re.compile(r"([\\`*_~|>#\[\]()<-])")


def quote_line(text: str, limit: int = 90) -> str:
    """User text repeated back as one Discord quote line: flattened, links out,
    markdown escaped, mentions neutralised, at most ``limit`` characters of the text."""
    line = cap(" ".join(_printable(strip_links(text)).split()), limit)
    return "> " + neutralise_mentions(_MARKDOWN.sub(r"\\\1", line))
