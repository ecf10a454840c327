"""Choosing the narrator: the model when one is configured, else the offline template.

A missing or blank ``OPENAI_API_KEY`` means "no model": the template writes, with one
note saying how to configure a model. A model client that cannot be built (a bad base
URL, say) is reported once in the log and the template writes; never an internal error.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from bot.narrator import Narrator
from bot.narrator.offline import OfflineNarrator
from bot.settings import Settings

log = logging.getLogger(__name__)

# Here rather than in bot.narrator.llm so that offline runs never import the openai SDK.
NO_KEY_NOTE = (
    "written by the offline template: set OPENAI_API_KEY (and OPENAI_BASE_URL / OPENAI_MODEL "
    "for a local server such as Ollama, vLLM or LM Studio) to have a model write it"
)


class NarratorChooser:
    """A service's narrator factory; builds the model narrator (and its cache) once."""

    def __init__(
        self, clock: Callable[[], dt.datetime] | None = None, *, backoff_initial: float = 0.5
    ) -> None:
        self._clock = clock
        self._backoff = backoff_initial
        self._model: Narrator | None = None
        self._broken: str | None = None
        self._lock = threading.Lock()

    def __call__(self, settings: Settings, offline: bool) -> Narrator:
        if offline:
            return OfflineNarrator()
        if settings.openai_api_key is None:
            return OfflineNarrator(notes=(NO_KEY_NOTE,))
        with self._lock:
            if self._broken is not None:
                return OfflineNarrator(notes=(self._broken,))
            if self._model is None:
                from bot.narrator.cache import ReplyCache
                from bot.narrator.llm import LLMNarrator

                try:
                    self._model = LLMNarrator(
                        settings,
                        ReplyCache(settings.database),
                        clock=self._clock,
                        backoff_initial=self._backoff,
                    )
                except Exception as exc:  # a bad model setting must not break a forecast
                    log.warning("the model narrator cannot be set up: %s", exc)
                    log.debug("model narrator set-up failure", exc_info=True)
                    self._broken = (
                        "written by the offline template: the model client could not be set "
                        "up (see the log)"
                    )
                    return OfflineNarrator(notes=(self._broken,))
                log.info(
                    "narrator: model %s at %s",
                    settings.openai_model,
                    settings.openai_base_url or "the default endpoint",
                )
            return self._model
