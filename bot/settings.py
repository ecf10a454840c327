"""Settings, read once at the entry point from the environment and ``.env`` files.

Two ``.env`` files are read, the current folder's winning over the user's:
``$XDG_CONFIG_HOME/iwm-analyst/.env`` (``~/.config/iwm-analyst/.env`` when
``XDG_CONFIG_HOME`` is unset) and ``./.env``. Variables set in the environment win over
both. :func:`env_files` says which of them exist (paths only, for ``status``).

Secrets are ``SecretStr``: they are never logged and never echoed to a user. Every
setting is listed, with its default, in ``.env.example``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.errors import ConfigError
from engine.state import EngineParams

log = logging.getLogger(__name__)


APP_NAME = "iwm-analyst"


def user_env_file() -> Path:
    """The user's ``.env``: ``$XDG_CONFIG_HOME/iwm-analyst/.env`` or ``~/.config/...``."""
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".config"
    return root / APP_NAME / ".env"


def env_files() -> tuple[Path, ...]:
    """The ``.env`` files that exist, lowest priority first (the user's, then ./.env)."""
    candidates = (user_env_file(), Path(".env"))
    return tuple(p for p in candidates if p.is_file())


def _default_data_dir() -> Path:
    return Path(user_data_dir("iwm-analyst", appauthor=False))


class Settings(BaseSettings):
    """All configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- data and engine ---------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir, alias="IWM_DATA_DIR")
    db_path: Path | None = Field(None, alias="IWM_DB_PATH")
    playbook_path: Path | None = Field(None, alias="IWM_PLAYBOOK")
    ticker: str = Field("IWM", alias="IWM_TICKER")
    # Engine thresholds: unset means the engine's own default (engine.state.EngineParams).
    high_vix: float | None = Field(None, alias="IWM_HIGH_VIX", gt=0)
    dark_pool_threshold: float | None = Field(None, alias="IWM_DARK_POOL_THRESHOLD", gt=0)
    log_level: str = Field("WARNING", alias="IWM_LOG_LEVEL")
    # Overall limit for one ``update`` (every series); what is left is reported and
    # resumes on the next run (FINRA files are cached, rows are written in chunks).
    update_deadline_seconds: float = Field(900.0, alias="IWM_UPDATE_DEADLINE_SECONDS", gt=0)

    # --- market-data providers (``iwm-analyst update``) ---------------------------
    # URLs: unset means the provider's own public endpoint (see sources.providers).
    # IWM_HTTP_TIMEOUT is the total time of one request, body included (not per read).
    http_timeout: float = Field(20.0, alias="IWM_HTTP_TIMEOUT", gt=0)
    backfill_years: int = Field(3, alias="IWM_BACKFILL_YEARS", ge=1, le=20)
    yahoo_chart_url: str | None = Field(None, alias="IWM_YAHOO_CHART_URL")
    stooq_url: str | None = Field(None, alias="IWM_STOOQ_URL")
    cboe_vix_url: str | None = Field(None, alias="IWM_CBOE_VIX_URL")
    finra_url: str | None = Field(None, alias="IWM_FINRA_URL")
    chain_url: str | None = Field(None, alias="IWM_CHAIN_URL")
    chain_fallback_url: str | None = Field(None, alias="IWM_CHAIN_FALLBACK_URL")

    # --- language model (any OpenAI-compatible server) ---------------------------
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4o-mini", alias="OPENAI_MODEL")
    # OPENAI_TIMEOUT bounds one attempt (body included); LLM_DEADLINE_SECONDS bounds
    # everything a person waits on for one answer (attempts, retries, waiting for another
    # request's identical call). At the deadline the template answers.
    openai_timeout: float = Field(30.0, alias="OPENAI_TIMEOUT", gt=0)
    openai_temperature: float = Field(0.2, alias="OPENAI_TEMPERATURE", ge=0, le=2)
    openai_stream: bool = Field(False, alias="OPENAI_STREAM")
    llm_deadline_seconds: float = Field(30.0, alias="LLM_DEADLINE_SECONDS", gt=0)
    llm_max_reply_tokens: int = Field(1200, alias="LLM_MAX_REPLY_TOKENS", ge=64)
    llm_max_answer_chars: int = Field(1500, alias="LLM_MAX_ANSWER_CHARS", ge=200)
    # Hosts a model's text may link to (comma-separated, subdomains included); empty
    # means no links at all.
    llm_allowed_link_hosts: str = Field("", alias="LLM_ALLOWED_LINK_HOSTS")
    llm_daily_token_budget: int = Field(200_000, alias="LLM_DAILY_TOKEN_BUDGET", ge=0)
    llm_max_question_chars: int = Field(500, alias="LLM_MAX_QUESTION_CHARS", gt=0)
    llm_history_turns: int = Field(6, alias="LLM_HISTORY_TURNS", ge=0)
    llm_history_max_tokens: int = Field(1500, alias="LLM_HISTORY_MAX_TOKENS", ge=0)

    # --- Discord -----------------------------------------------------------------
    discord_token: SecretStr | None = Field(None, alias="DISCORD_TOKEN")
    discord_prefix: str = Field("!", alias="DISCORD_PREFIX")
    discord_data_csv: Path | None = Field(None, alias="DISCORD_DATA_CSV")
    # A saved option chain (JSON) for GEX by expiry in ``gex``; unset: the stored figures.
    discord_chain_file: Path | None = Field(None, alias="DISCORD_CHAIN_FILE")
    discord_schedule_time: str = Field("08:30", alias="DISCORD_SCHEDULE_TIME")
    discord_schedule_tz: str = Field("America/New_York", alias="DISCORD_SCHEDULE_TZ")
    discord_grace_minutes: int = Field(90, alias="DISCORD_GRACE_MINUTES", ge=0)
    discord_cooldown_seconds: float = Field(20.0, alias="DISCORD_COOLDOWN_SECONDS", ge=0)
    discord_max_input_chars: int = Field(500, alias="DISCORD_MAX_INPUT_CHARS", gt=0)
    discord_conversation_ttl_hours: float = Field(
        24.0, alias="DISCORD_CONVERSATION_TTL_HOURS", gt=0
    )
    # The data refresh before a morning post gives up after this long (the post goes
    # out on the data already stored).
    discord_refresh_seconds: float = Field(120.0, alias="DISCORD_REFRESH_SECONDS", gt=0)

    @field_validator("openai_api_key", "discord_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """``OPENAI_API_KEY=`` (blank) in ``.env`` means "no key", never an empty key."""
        if value is None:
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and not raw.strip():
            return None
        return raw.strip() if isinstance(raw, str) else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @property
    def allowed_link_hosts(self) -> tuple[str, ...]:
        """LLM_ALLOWED_LINK_HOSTS as lower-case host names."""
        hosts = (h.strip().lower().strip(".") for h in self.llm_allowed_link_hosts.split(","))
        return tuple(h for h in hosts if h)

    @property
    def database(self) -> Path:
        """The SQLite file shared by the store, ledger, model cache and bot state."""
        return self.db_path or self.data_dir / "iwm-analyst.sqlite3"

    @property
    def engine_params(self) -> EngineParams:
        """The engine's parameters with the thresholds these settings override."""
        given = {"high_vix": self.high_vix, "dark_pool_threshold": self.dark_pool_threshold}
        return EngineParams(**{k: v for k, v in given.items() if v is not None})


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and the ``.env`` files (:func:`env_files`;
    the later file wins); bad values become ConfigError."""
    files = env_files()
    try:
        return Settings(_env_file=files or None, **overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid setting ({problems}); check your .env file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        names = ", ".join(str(p) for p in files) or ".env"
        raise ConfigError(f"cannot read the settings file {names}: {exc}") from exc
