"""Settings: every knob is a LIANJU_* environment variable or a line in .env."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIANJU_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("lianju")),
        description="Where the corpus, databases and trained models live.",
    )
    corpus_package: str = Field(
        default="chinese-poetry@2.0.1",
        description="The npm package `lianju corpus build` fetches when no --source is given.",
    )

    @property
    def corpus_dir(self) -> Path:
        return self.data_dir / "corpus"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
