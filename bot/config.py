"""Settings: every knob is a LIANJU_* environment variable or a line in .env."""

from __future__ import annotations

from datetime import UTC
from functools import lru_cache
from pathlib import Path
from typing import Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, SecretStr, field_validator

from storage.settings import StorageSettings

SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "engine" / "weights"
SHIPPED_MODEL = SHIPPED_WEIGHTS / "default"


class Settings(StorageSettings):
    """The bot's settings, read like storage's (LIANJU_* variables, .env), which it extends."""

    corpus_package: str = Field(
        default="chinese-poetry@2.0.1",
        description="The npm package `lianju corpus build` fetches when no --source is given.",
    )
    model_dir: Path = Field(
        default=SHIPPED_MODEL,
        description="The model the poet serves: a from_pretrained directory.",
    )
    corpus_lines: Path = Field(
        default=SHIPPED_WEIGHTS / "corpus_lines.bloom",
        description="The Bloom filter of corpus lines the poet refuses to copy (engine.novelty).",
    )
    backend: str = Field(
        default="auto",
        description="How tokens are produced: auto, cpu-fp32, cpu-int8, cuda-bf16, cuda-nf4, cuda-int8.",
    )

    upgrade_schema: bool | None = Field(
        default=None,
        description="Migrate the database at start-up: unset means yes for SQLite, no for PostgreSQL "
        "(run `lianju db upgrade` there on purpose).",
    )

    discord_token: SecretStr = Field(default=SecretStr(""), description="The bot's token (Developer Portal → Bot).")
    owner_ids: list[int] = Field(
        default_factory=list,
        description="Discord user ids allowed to run owner commands, as a JSON list; empty: the application's owner.",
    )
    shard_count: int | None = Field(
        default=None, ge=1, description="Number of gateway shards; unset: the number Discord recommends."
    )
    sync_commands: str = Field(
        default="changed",
        pattern="^(changed|always|never)$",
        description="Slash command sync at start-up: changed (when the command tree's hash differs), always, never.",
    )
    daily_misfire_grace_s: int = Field(
        default=3600, ge=1, description="How late a daily poem may still be posted after the bot was down."
    )
    poem_candidates: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="Candidates sampled per /poem; the best is shown. Unset: the engine's default for the form "
        "(engine.poet.default_candidates: 16 for a quatrain, 8 for a 律诗).",
    )
    poem_temperature: float | None = Field(
        default=None,
        ge=0.1,
        le=1.5,
        description="Default sampling temperature of /poem. Unset: the engine's, 0.6 (engine.poet.TEMPERATURE).",
    )
    chain_turn_seconds: int = Field(
        default=120, ge=1, le=3600, description="A 联句 turn's seconds where the server and the start chose none."
    )
    feihua_turn_seconds: int = Field(
        default=60, ge=1, le=3600, description="A 飞花令 turn's seconds where the server and the start chose none."
    )
    duilian_turn_seconds: int = Field(
        default=120, ge=1, le=3600, description="A 对对联 round's seconds where the server and the start chose none."
    )
    poems_per_minute: int = Field(
        default=3, ge=0, description="How many /poem one person may ask for in a minute; 0: no limit."
    )
    game_starts_per_minute: int = Field(
        default=2, ge=0, description="How many games one person may start in a minute; 0: no limit."
    )
    model_check_seconds: int = Field(
        default=60, ge=1, description="How often the bot compares the registry's active model with the one it serves."
    )
    finetune_method: Literal["full", "lora", "qlora"] = Field(  # engine.finetune.METHODS
        default="full",
        description="How a fine-tune trains: full (every weight; the small model), lora (peft adapters), "
        "qlora (4-bit base + adapters; needs a CUDA GPU).",
    )
    finetune_cron: str = Field(
        default="0 4 * * mon",
        description="When the bot starts `lianju finetune` (crontab fields, UTC, weekdays by name); empty: never.",
    )

    @field_validator("finetune_cron")
    @classmethod
    def _crontab(cls, value: str) -> str:
        value = value.strip()
        if value:
            fields = value.split()
            # APScheduler numbers weekdays from Monday = 0, cron from Sunday = 0: a number would fire a day late.
            if len(fields) == 5 and any(char.isdigit() for char in fields[4]):
                raise ValueError(f"write the weekday of {value!r} by name (mon, tue, … sun), not by number")
            CronTrigger.from_crontab(value, timezone=UTC)  # its ValueError names the bad field
        return value

    @property
    def corpus_dir(self) -> Path:
        return self.data_dir / "corpus"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
