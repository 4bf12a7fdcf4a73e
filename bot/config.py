"""Settings: every knob is a LIANJU_* environment variable or a line in .env."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "engine" / "weights" / "default"


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
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the database: sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB; "
        "empty: lianju.sqlite in the data folder.",
    )

    model_dir: Path = Field(
        default=SHIPPED_MODEL,
        description="The model the poet serves: a from_pretrained directory.",
    )
    backend: str = Field(
        default="auto",
        description="How tokens are produced: auto, cpu-fp32, cpu-int8, cuda-bf16, cuda-nf4, cuda-int8.",
    )

    @model_validator(mode="after")
    def _default_database_in_data_dir(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'lianju.sqlite'}"
        return self

    @property
    def corpus_dir(self) -> Path:
        return self.data_dir / "corpus"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
