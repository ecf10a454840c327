"""Reading a user's file with bounded cost, before any parser sees it.

The bytes are sniffed first (compressed, binary, UTF-16, NUL), then decoded as UTF-8,
then the header and every line are measured: a 4 MB single-line header is refused in
milliseconds instead of keeping a CSV parser busy for minutes. Every refusal is one
:class:`InputDataError` line naming the file. Part of the door (:mod:`sources.validate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from engine.errors import InputDataError

#: Longest header line accepted (characters): real headers are well under 1,000.
MAX_HEADER_CHARS: Final = 16_384
#: Longest data line accepted (characters).
MAX_LINE_CHARS: Final = 65_536
#: Most columns accepted in one file.
MAX_COLUMNS: Final = 256
#: Largest file read (bytes); 26 years of daily bars are about 0.5 MB.
MAX_FILE_BYTES: Final = 256 * 1024 * 1024


def _line_of(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def read_text(path: Path) -> str:
    """The text of ``path`` (UTF-8, BOM stripped), or one InputDataError line saying why not.

    Cost is bounded: the bytes are sniffed before decoding, the header and every line are
    measured before anything parses them.
    """
    path = Path(path)
    name = path.name
    try:
        if path.is_dir():
            raise InputDataError(f"{path} is a folder, not a file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputDataError(
                f"{name} is {size / 1e6:,.0f} MB; daily data files are far smaller "
                f"(limit {MAX_FILE_BYTES / 1e6:,.0f} MB)"
            )
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputDataError(f"file not found: {path}") from exc
    except OSError as exc:
        raise InputDataError(f"cannot read {path}: {exc.strerror}") from exc
    _sniff(data, name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputDataError(
            f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line "
            f"{_line_of(data, exc.start)}); save it as UTF-8 CSV"
        ) from exc
    if not text.strip():
        raise InputDataError(f"{name} is empty")
    _check_lines(text, name)
    return text


def _sniff(data: bytes, name: str) -> None:
    head = data[:8]
    if head.startswith(b"\x1f\x8b"):
        raise InputDataError(f"{name} is gzip-compressed; unpack it first (gunzip)")
    if head.startswith(b"PK\x03\x04"):
        raise InputDataError(f"{name} is a ZIP archive (or an .xlsx workbook); save it as CSV")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputDataError(f"{name} is UTF-16 text; save it as UTF-8 CSV")
    nul = data.find(b"\x00")
    if nul >= 0:
        if _utf16_without_bom(data[:4096]):
            raise InputDataError(f"{name} is UTF-16 text; save it as UTF-8 CSV")
        raise InputDataError(
            f"{name} is binary, not a CSV file (a NUL byte on line {_line_of(data, nul)})"
        )
    sample = data[:4096]
    control = sum(1 for b in sample if b < 9 or 13 < b < 32)
    if sample and control > len(sample) // 20:
        raise InputDataError(f"{name} is binary, not a CSV file")
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        high = sum(1 for b in sample if b >= 0x80)
        if exc.end < len(sample) - 3 and high > len(sample) // 5:
            raise InputDataError(f"{name} is binary, not a CSV file") from exc


def _utf16_without_bom(sample: bytes) -> bool:
    """Every other byte NUL and the rest printable ASCII: UTF-16 text of Latin letters."""
    for zeros, chars in ((sample[1::2], sample[0::2]), (sample[0::2], sample[1::2])):
        if len(zeros) > 8 and zeros.count(0) == len(zeros):
            printable = sum(1 for b in chars if 32 <= b < 127 or b in (9, 10, 13))
            if printable >= 0.9 * len(chars):
                return True
    return False


def _check_lines(text: str, name: str) -> None:
    start = len(text) - len(text.lstrip())
    end = text.find("\n", start, start + MAX_HEADER_CHARS + 2)
    if end < 0 and len(text) - start > MAX_HEADER_CHARS:
        raise InputDataError(
            f"{name}: the header line is {len(text) - start:,} characters long (at most "
            f"{MAX_HEADER_CHARS:,}); this is not a CSV header"
        )
    longest = max(map(len, text.split("\n")))
    if longest > MAX_LINE_CHARS:
        lines = text.split("\n")
        i = next(i for i, ln in enumerate(lines) if len(ln) > MAX_LINE_CHARS)
        raise InputDataError(
            f"{name}: line {i + 1} is {len(lines[i]):,} characters long (at most "
            f"{MAX_LINE_CHARS:,}); not a daily data file"
        )


def looks_like_html(text: str) -> bool:
    """True when a body is an HTML page (error pages served with HTTP 200)."""
    head = text.lstrip()[:512].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<body" in head
