"""The project's single error hierarchy.

Every error a person can cause or fix derives from :class:`AnalystError`. Front-ends (CLI,
Discord, terminal chat) catch ``AnalystError`` and show ``str(err)`` as a short, friendly
line; anything else is a bug and is logged with ``log.exception``.

Who handles what:

* :class:`InputDataError` - bad user data (CSV, column, dates, prices). The CLI exits 2.
* :class:`InsufficientHistoryError` - too few rows for the indicators. The CLI exits 2.
* :class:`EmptyStoreError` - the local store has no prices; ``forecast`` shows the demo.
* :class:`ConfigError` - a missing or invalid setting; the message names the variable.
* :class:`RuleSpecError` - a playbook rules file that does not parse or names unknown things.
* :class:`ProviderError` - a data provider failed (HTTP error, bad payload). ``update``
  reports it per source and carries on with the others.
* :class:`StoreError` - the local SQLite store cannot be read or written.
* :class:`ModelError` - the language-model service failed; callers fall back to the
  offline narrator, so users rarely see it.
* :class:`UserInputError` - a chat message or command argument that cannot be acted on.
* :class:`ChartError` - a chart could not be drawn (failed, or killed at its deadline);
  front-ends send the report without it.
"""

from __future__ import annotations


class AnalystError(Exception):
    """Base class: a known failure with a message a person can act on."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputDataError(AnalystError):
    """The data a user supplied cannot be used as it is (column, date, value, file)."""

    exit_code = 2


class EmptyStoreError(InputDataError):
    """The local store has no prices yet; the message says how to fill it."""


class InsufficientHistoryError(InputDataError):
    """Too few rows to compute the indicators the rules need."""


class ConfigError(AnalystError):
    """A setting is missing or invalid; the message names the environment variable."""

    exit_code = 2


class RuleSpecError(AnalystError):
    """The playbook rules file is malformed or refers to unknown indicators."""

    exit_code = 2


class ProviderError(AnalystError):
    """A market-data provider failed or returned something that is not data."""


class StoreError(AnalystError):
    """The local SQLite store cannot be opened, migrated, read or written."""


class ModelError(AnalystError):
    """The language-model service failed or replied with something unusable."""


class UserInputError(AnalystError):
    """A command argument or chat message that cannot be acted on."""

    exit_code = 2


class ChartError(AnalystError):
    """A chart could not be drawn: the drawing failed or was stopped at its deadline."""
