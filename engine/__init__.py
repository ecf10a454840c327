"""Deterministic IWM analysis engine: the pure core.

Pure functions only: a daily DataFrame goes in, new objects come out. Nothing in this
package touches files (other than its own bundled data), the network, the clock,
Discord or a model; the I/O that feeds it lives in the sibling package ``sources``.
"""
