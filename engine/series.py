"""The names of the input series, in one place (no dependencies, cheap to import).

``prices`` is IWM's daily bars; ``vix``, ``gex`` and ``dark_pool`` are the optional
auxiliary series. In a daily frame (:mod:`engine.frame`) each auxiliary series is the
column of the same name; provenance, warnings, the store and the command line use
these names too.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Series = Literal["prices", "vix", "gex", "dark_pool"]
SERIES: Final[tuple[Series, ...]] = get_args(Series)

AuxSeries = Literal["vix", "gex", "dark_pool"]
AUX_SERIES: Final[tuple[AuxSeries, ...]] = get_args(AuxSeries)
