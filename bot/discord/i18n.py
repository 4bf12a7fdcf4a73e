"""The command names and descriptions of bot.i18n, as Discord wants them: commands are declared
with `command_text(key)` (English by default) and `LianjuTranslator` gives Discord the zh-CN and
zh-TW ones."""

from __future__ import annotations

from discord import Locale, app_commands

from bot.i18n import EN, MESSAGES, normalise_locale, text

SHARED_GAME_PREFIX = "cmd.game."  # join, line, status and stop: bot.discord.posts.GameCog's commands


def command_text(key: str) -> app_commands.locale_str:
    """A command name, description or choice: English by default, localised by LianjuTranslator."""
    return app_commands.locale_str(MESSAGES[key]["en"], key=key)


def game_key(key: str, command: object) -> str:
    """A game's own wording of a command every game shares, when it has one: cmd.feihua.line (接令) for
    飞花令's cmd.game.line. The group of a game's commands is named by cmd.<game>, English by default."""
    if key.startswith(SHARED_GAME_PREFIX) and isinstance(command, app_commands.Command) and command.parent:
        own = f"cmd.{command.parent.name}.{key.removeprefix(SHARED_GAME_PREFIX)}"
        if own in MESSAGES:
            return own
    return key


class LianjuTranslator(app_commands.Translator):
    """Gives Discord the zh-CN and zh-TW names and descriptions of every command."""

    async def translate(
        self, string: app_commands.locale_str, locale: Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        key = string.extras.get("key")
        if key not in MESSAGES or normalise_locale(locale) == EN:
            return None
        return text(game_key(key, context.data), locale)
