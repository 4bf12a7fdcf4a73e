"""/forgetme: the person's data deleted everywhere it is kept (bot.services.Services.forget), after
they confirm with a button. The button's custom_id names the person, so it still works after a
restart, and only they can press it."""

from __future__ import annotations

import re

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.discord.app import LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.views import person_of
from bot.services import Person, forgotten_text
from storage.models import utcnow


class ForgetButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"lianju:forget:(?P<user_id>[0-9]{1,19})",
):
    def __init__(self, user_id: int, locale: object = i18n.ZH_CN) -> None:
        self.user_id = user_id
        super().__init__(
            discord.ui.Button(
                label=i18n.text("forget.button", locale),
                style=discord.ButtonStyle.danger,
                custom_id=f"lianju:forget:{user_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View], match: re.Match[str], /
    ) -> ForgetButton:
        return cls(int(match["user_id"]))

    async def callback(self, interaction: discord.Interaction[LianjuBot]) -> None:  # type: ignore[override]
        interaction.client.handling()
        person = person_of(interaction)
        if person.id != self.user_id:
            await interaction.response.send_message(i18n.text("forget.not_yours", person.locale), ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = interaction.client
        for channel_id, outcome in await bot.games.forget_player(person.id, utcnow()):
            bot.clock.follow(channel_id, outcome)  # the next turn's timers replace the reminder of theirs
            await bot.posts.post_outcome(channel_id, outcome)
        report = await bot.services.forget(person)
        await interaction.edit_original_response(content=forgotten_text(report, person.locale))


def confirm_view(person: Person) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ForgetButton(person.id, person.locale))
    return view


class PrivacyCog(commands.Cog):
    def __init__(self, bot: LianjuBot) -> None:
        self.bot = bot

    @app_commands.command(name=_("cmd.forgetme"), description=_("cmd.forgetme.desc"))
    async def forgetme(self, interaction: discord.Interaction) -> None:
        person = person_of(interaction)
        await interaction.response.send_message(
            i18n.text("forget.confirm", person.locale), view=confirm_view(person), ephemeral=True
        )


async def setup(bot: LianjuBot) -> None:
    bot.add_dynamic_items(ForgetButton)
    await bot.add_cog(PrivacyCog(bot))


async def teardown(bot: LianjuBot) -> None:
    bot.remove_dynamic_items(ForgetButton)
