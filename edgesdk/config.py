"""Settings, read once from the environment (prefix ``EDGESDK_``) and then frozen.

pydantic-settings does the parsing so that a typo in a value fails with a field name and a
reason instead of surfacing mid-request. The DeepSeek key is read from ``DEEPSEEK_API_KEY`` (the
variable the DeepSeek docs use) as a ``SecretStr``: its repr is ``'**********'``, so it cannot
leak through logs, traces or ``--json`` output by accident.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path.home() / ".cache" / "edgesdk"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EDGESDK_", frozen=True, extra="ignore")

    home: Path = Field(default_factory=default_home)
    """Root of the model store (``home/models``), the outbox and the wheel cache."""

    native_check: bool = True
    """Before a GGUF model is loaded in this process, prove once (in a child process, then
    remembered in ``home/native``) that the installed llama.cpp build does not crash on this
    CPU; ``EDGESDK_NATIVE_CHECK=0`` skips it where child processes are not allowed."""

    profile: str = "phone"
    speech_language: Literal["en", "zh", "auto"] | None = None
    """What the speech recogniser expects (``EDGESDK_SPEECH_LANGUAGE``); unset: the profile's
    (English on the watch and glasses, ``auto`` on the phone and edge)."""
    mode: str = "prefer-on-device"
    deadline_s: float = Field(default=30.0, gt=0)
    max_question_chars: int = Field(default=4000, gt=0)

    cloud_base_url: str = "https://api.deepseek.com"
    cloud_model: str = "deepseek-chat"
    cloud_reasoner_model: str = "deepseek-reasoner"
    daily_budget_usd: float | None = Field(default=None, ge=0)
    daily_call_budget: int | None = Field(default=None, ge=0)
    deepseek_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DEEPSEEK_API_KEY", "EDGESDK_DEEPSEEK_API_KEY"),
    )

    @property
    def models_dir(self) -> Path:
        return self.home / "models"


class Budget(BaseModel):
    """Daily limits on upper-tier use; the router's policy stops escalating when they run out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily_money: float | None = Field(default=None, ge=0)
    daily_calls: int | None = Field(default=None, ge=0)
    currency: str = "USD"
    est_call_cost: float = Field(default=0.0002, ge=0)
    """Expected cost of one escalation (a ~300-token prompt and a short answer at V3.2 prices)."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit keyword overrides winning."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
