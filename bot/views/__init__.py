"""How every figure and every result is written, once, for every front-end.

* :mod:`bot.views.fmt` - the formatters: percentages, signed returns, prices, dollars
  (GEX), intervals, sample sizes, p-values, dates and the missing-value mark.
* :mod:`bot.views.report` - the text views of a MarketState and the full report in
  the playbook's format.
* :mod:`bot.views.tables` - audit, walk-forward, scorecard, signals and GEX results as
  :class:`~bot.views.tables.TextTable` objects, and their monospace rendering.

The CLI, the Discord embeds, the terminal chat and the narrators all go through these
modules, so a figure reads the same wherever it appears.
"""
