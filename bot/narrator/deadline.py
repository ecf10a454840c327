"""A point in time by which a person must have an answer, on the monotonic clock.

One :class:`Deadline` is made where a request arrives (a Discord command, a CLI run)
and handed down to everything the person waits on: the model call and its retries,
waiting for another request's identical model call, the chart. Each part asks how much
time is :meth:`~Deadline.remaining` and gives up, answering from the template, when
there is none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    """``at`` is a :func:`time.monotonic` reading, in seconds."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def cap(self, seconds: float) -> Deadline:
        """The earlier of this deadline and ``seconds`` from now."""
        return Deadline(min(self.at, time.monotonic() + seconds))
