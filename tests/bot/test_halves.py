"""The folder says whether a module may import discord: only bot/discord/ does."""

from __future__ import annotations

import ast
from pathlib import Path

import bot

BOT = Path(bot.__file__).parent
DISCORD_HALF = BOT / "discord"


def imported_modules(path: Path) -> list[tuple[str, bool]]:
    """Every absolute import of a file, and whether it sits at module level (runs on import)."""
    tree = ast.parse(path.read_text(), str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, id(node) in top_level))
    return found


def test_only_the_discord_half_imports_discord():
    application = [path for path in BOT.rglob("*.py") if DISCORD_HALF not in path.parents]
    assert BOT / "games" / "service.py" in application and len(application) > 10
    offenders = []
    for path in application:
        for module, at_import in imported_modules(path):
            if module.split(".")[0] == "discord" or (at_import and module.startswith("bot.discord")):
                offenders.append(f"{path.relative_to(BOT)}: {module}")
    # The CLI's `run` starts the Discord half, importing it only when that command runs.
    assert offenders == []


def test_the_discord_half_imports_the_real_library():
    import discord

    import bot.discord.app

    assert Path(discord.__file__).parent != DISCORD_HALF and hasattr(discord, "Client")
    assert bot.discord.app.discord is discord
