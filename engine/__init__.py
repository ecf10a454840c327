"""Deterministic IWM analysis engine.

Pure functions only: a daily DataFrame goes in, new objects come out. Nothing in this
package (outside ``engine.sources``) touches the network, the clock, Discord or a model.
"""
