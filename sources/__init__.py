"""The I/O that feeds the pure engine: file import, HTTP providers, the SQLite store.

This package reads files, the network, SQLite and (at its entry points) the clock; the
pure ``engine`` package never imports it. It never imports ``bot``.
"""
