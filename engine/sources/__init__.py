"""I/O at the edge of the engine: file import, HTTP providers and the SQLite store.

Nothing here imports ``bot``; the pure engine modules never import this package.
"""
