"""Sources without secrets: the one helper every stored or shown URL goes through.

Provider URLs may carry credentials (``https://user:pw@host/...``, ``?apikey=...``,
``#token=...``). A source is stored in the store (``source`` columns) and printed in
every report's Data line, so it keeps only scheme, host, port and path.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def public_url(url: str) -> str:
    """``url`` without user info, query string and fragment.

    >>> public_url("https://me:pw@api.example.com:8443/v1/IWM.json?apikey=s3cret#x")
    'https://api.example.com:8443/v1/IWM.json'

    Text that is not a URL (a file name, ``yahoo``) comes back unchanged.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_urls(text: str) -> str:
    """Every URL inside ``text`` made public (:func:`public_url`), e.g. in ``chain:URL``."""
    return _URL.sub(lambda m: public_url(m.group(0)), text)
