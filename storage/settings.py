"""Where the database is: the settings storage needs, read without the bot's.

The `alembic` command line and an installed `storage` must find the database without importing
the bot, so the two settings it depends on live here and `bot.config.Settings` inherits them.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIANJU_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("lianju")),
        description="Where the corpus, databases and trained models live.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the database: sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB; "
        "empty: lianju.sqlite in the data folder.",
    )

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir_given(cls, value: object) -> object:
        # LIANJU_DATA_DIR= (empty) would be Path(""), the working directory: a database made wherever one stands
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: give a folder")
        return value

    @model_validator(mode="after")
    def _default_database_in_data_dir(self) -> StorageSettings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'lianju.sqlite'}"
        return self
