"""How the games speak in Discord, shared by the 联句, 飞花令 and 对对联 cogs.

`table_of(bot)` is the bot's one game table: the GameService and the GameClock, created by the
first game cog that loads, which also reschedules every running game. Replies to a move go to the
person who moved; what happens without anyone asking (a reminder, a timeout, the bot's move) is
posted in the channel. A finished 联句 is posted whole with each line's author and rating buttons.
"""

from __future__ import annotations

import logging

import discord

from bot import i18n
from bot.games.common import BOT, Outcome
from bot.playing import GameClock, bot_name, describe, game_service, poem_credits, reminder
from bot.services import Person
from bot.views import person_of, poem_embed, rating_view

log = logging.getLogger(__name__)

CHAIN_TITLE = ("联句", "Linked verse")


class GameTable:
    def __init__(self, bot) -> None:
        self.bot = bot
        self.service = game_service(bot.services)
        self.clock = GameClock(self.service, self.post_outcome, self.post_reminder)
        # The language of the last person who played in a channel: what the channel's posts use.
        self.locales: dict[int, str] = {}

    def name_in(self, locale: object):
        def name(who: int | None) -> str:
            return bot_name(locale) if who == BOT else f"<@{who}>"
        return name

    def seen(self, person: Person) -> str:
        self.locales[person.channel_id] = person.locale
        return person.locale

    async def act(self, interaction: discord.Interaction, move, *, thinking: bool = False,
                  show_line: bool = True) -> None:
        """Every game command's shape: defer, note who moved (and their language), move, answer.
        `move(person)` returns the Outcome."""
        await interaction.response.defer(thinking=thinking)
        person = person_of(interaction)
        self.seen(person)
        await self.reply(interaction, person, await move(person), show_line)

    async def reply(self, interaction: discord.Interaction, person: Person, outcome: Outcome,
                    show_line: bool = True) -> None:
        """Answer a move (the interaction was deferred), follow the game's clock, post a finished poem."""
        self.clock.follow(person.channel_id, outcome)
        text = describe(outcome, person.locale, self.name_in(person.locale), show_line) or "…"
        await interaction.edit_original_response(content=text)
        if outcome.poem_id is not None:
            await self.post_poem(person.channel_id, outcome, person.locale)

    def _channel(self, channel_id: int):
        return self.bot.get_partial_messageable(channel_id)

    async def post_outcome(self, channel_id: int, outcome: Outcome) -> None:
        locale = self.locales.get(channel_id, i18n.ZH_CN)
        text = describe(outcome, locale, self.name_in(locale))
        if text:
            await self._channel(channel_id).send(text)
        if outcome.poem_id is not None:
            await self.post_poem(channel_id, outcome, locale)

    async def post_reminder(self, channel_id: int, turn: int | None, seconds_left: int) -> None:
        locale = self.locales.get(channel_id, i18n.ZH_CN)
        await self._channel(channel_id).send(reminder(turn, seconds_left, locale, self.name_in(locale)))

    async def post_poem(self, channel_id: int, outcome: Outcome, locale: object) -> None:
        card = await self.bot.services.card(outcome.poem_id)
        embed = poem_embed(card)
        if not card.title:
            embed.title = f"{i18n.bilingual(locale, *CHAIN_TITLE)} · {card.form_label}"
        message = await self._channel(channel_id).send(
            content=poem_credits(outcome, locale, self.name_in(locale)), embed=embed,
            view=rating_view(outcome.poem_id))
        await self.bot.services.attach_message(outcome.poem_id, channel_id, message.id)


async def table_of(bot) -> GameTable:
    """The bot's game table, made (and every running game rescheduled) on first use."""
    table = getattr(bot, "game_table", None)
    if table is None:
        table = bot.game_table = GameTable(bot)
        resumed = await table.clock.resume()
        log.info("resumed %d running games", resumed)
    return table


class TableCog:
    """Mixed into every game cog: the bot's one game table, loaded and closed with the cog."""

    async def cog_load(self) -> None:
        self.table = await table_of(self.bot)

    async def cog_unload(self) -> None:
        await self.table.clock.close()
