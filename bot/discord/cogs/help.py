"""/help: every command the reader may use, with its description, in the reader's language.

The list is read from the command tree as Discord receives it (names and descriptions through the
translator), so it never drifts from the commands themselves; commands whose default permissions
the reader lacks (the moderators' and the owner's) are left out."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.discord.app import LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.views import EMBED_COLOUR


def command_lines(
    command: app_commands.Command | app_commands.Group,
    payload: dict,
    locale: str,
    permissions: discord.Permissions,
    prefix: str = "/",
) -> list[str]:
    """`/name — description` for a command, or for each subcommand of a group, from the command and
    its payload as Discord receives it; none for what needs permissions the reader lacks (Discord
    hides those commands from them too)."""
    needed = command.default_permissions
    if needed is not None and not needed <= permissions:
        return []
    name = (payload.get("name_localizations") or {}).get(locale, payload["name"])
    if isinstance(command, app_commands.Group):
        return [
            line
            for option in payload.get("options", [])
            if (child := command.get_command(option["name"])) is not None
            for line in command_lines(child, option, locale, permissions, f"{prefix}{name} ")
        ]
    description = (payload.get("description_localizations") or {}).get(locale, payload["description"])
    return [f"**{prefix}{name}** — {description}"]


class HelpCog(commands.Cog):
    def __init__(self, bot: LianjuBot) -> None:
        self.bot = bot

    @app_commands.command(name=_("cmd.help"), description=_("cmd.help.desc"))
    async def help(self, interaction: discord.Interaction) -> None:
        tree, locale = self.bot.tree, interaction.locale
        lines = []
        for command in tree.get_commands():
            if isinstance(command, app_commands.Command | app_commands.Group):
                payload = await command.get_translated_payload(tree, self.bot.translator)
                lines += command_lines(command, payload, locale.value, interaction.permissions)
        embed = discord.Embed(title=i18n.text("help.title", locale), description="\n".join(lines), colour=EMBED_COLOUR)
        embed.set_footer(text=i18n.text("help.footer", locale))
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: LianjuBot) -> None:
    await bot.add_cog(HelpCog(bot))
