"""The command names and descriptions of bot.i18n, as Discord wants them: commands are declared
with `command_text(key)` (English by default) and `LianjuTranslator` gives Discord the zh-CN and
zh-TW ones."""

from __future__ import annotations

from discord import Locale, app_commands

from bot.i18n import EN, MESSAGES, normalise_locale, text


def command_text(key: str) -> app_commands.locale_str:
    """A command name, description or choice: English by default, localised by LianjuTranslator."""
    return app_commands.locale_str(MESSAGES[key]["en"], key=key)


class LianjuTranslator(app_commands.Translator):
    """Gives Discord the zh-CN and zh-TW names and descriptions of every command."""

    async def translate(
        self, string: app_commands.locale_str, locale: Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        key = string.extras.get("key")
        if key not in MESSAGES or normalise_locale(locale) == EN:
            return None
        return text(key, locale)
