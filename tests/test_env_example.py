"""`.env.example` names exactly the settings bot/config.py reads, every value it shows is one they accept, and a
commented line shows the default."""

import os
import re
from pathlib import Path

import pytest
from pydantic_core import PydanticUndefined

from bot.config import Settings

EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"
PREFIX = Settings.model_config["env_prefix"]
# A setting's line, given (`NAME=value`) or commented out (`# NAME=value`).
SETTING_LINE = re.compile(rf"^(?:#\s*)?({PREFIX}[A-Z0-9_]+)=(.*)$")


def example_settings() -> list[tuple[str, str]]:
    return [match.groups() for line in EXAMPLE.read_text("utf-8").splitlines() if (match := SETTING_LINE.match(line))]


@pytest.fixture
def no_settings_in_environment(monkeypatch, tmp_path):
    """Only the file under test speaks: no LIANJU_* variable, and no .env in the working folder."""
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_it_names_every_setting_once_and_nothing_else():
    names = [name for name, _ in example_settings()]
    assert sorted(names) == sorted(f"{PREFIX}{field}".upper() for field in Settings.model_fields)


def test_as_shipped_it_loads_with_an_empty_token(no_settings_in_environment):
    settings = Settings(_env_file=EXAMPLE)
    assert settings.discord_token.get_secret_value() == ""


def test_every_value_it_shows_is_accepted(no_settings_in_environment, tmp_path):
    uncommented = tmp_path / "all.env"
    uncommented.write_text("".join(f"{name}={value}\n" for name, value in example_settings()), "utf-8")
    settings = Settings(_env_file=uncommented)  # a value the settings refuse raises ValidationError
    assert settings.finetune_cron == "0 4 * * mon"  # the quotes, needed by systemd, are stripped
    assert settings.database_url.startswith("postgresql://")


def test_a_commented_line_shows_the_default(no_settings_in_environment, tmp_path):
    defaults = Settings(_env_file=None)
    differ = []
    for name, value in example_settings():
        field = name.removeprefix(PREFIX).lower()
        declared = Settings.model_fields[field].default
        if declared in (None, "", [], {}, PydanticUndefined) or isinstance(declared, Path):
            continue  # unset, or where this checkout is: the line shows an example
        one = tmp_path / f"{field}.env"
        one.write_text(f"{name}={value}\n", "utf-8")
        if getattr(Settings(_env_file=one), field) != getattr(defaults, field):
            differ.append(name)
    assert differ == []


def test_the_readmes_table_documents_every_setting():
    readme = (EXAMPLE.parent / "README.md").read_text("utf-8")
    rows = set(re.findall(rf"^\| `({PREFIX}[A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    assert rows == {f"{PREFIX}{field}".upper() for field in Settings.model_fields}
