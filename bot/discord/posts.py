"""How the games speak in Discord, and the base every game cog shares.

Replies to a move go to the person who moved; what happens without anyone asking (a reminder, a
timeout, the bot's move) is posted in the channel, in the language the server chose in /settings,
else in that of the last person who played there (kept in storage, so it outlives a restart). A
finished 联句 is posted whole with each line's author and rating buttons. `GameCog` gives every
game's command group its join, line, status and stop; a game's cog adds how it starts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.discord.i18n import command_text as _
from bot.discord.views import channel_of, person_of, send_poem
from bot.games.common import BOT, Names, Outcome, TurnGame
from bot.games.texts import describe, mention, poem_credits, reminder, status_text
from bot.services import Person, Services
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.discord.app import LianjuBot

log = logging.getLogger(__name__)

CHAIN_TITLE = ("联句", "Linked verse")

Move = Callable[[Person], Awaitable[Outcome]]


def notifying(turn: int | None) -> discord.AllowedMentions:
    """Ping only the player whose turn it is; names in credits and notes stay silent (the bot's
    default pings nobody: LianjuBot)."""
    if turn is None or turn == BOT:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(everyone=False, roles=False, replied_user=False, users=[discord.Object(turn)])


class GamePosts:
    def __init__(self, bot: LianjuBot, services: Services) -> None:
        self.bot = bot
        self.services = services
        # The language of the last person who played in each channel, as last stored.
        self.locales: dict[int, str] = {}

    def name_in(self, locale: object) -> Names:
        return lambda who: mention(who, locale)

    async def seen(self, person: Person) -> None:
        """Remember the language of whoever plays in a channel (stored only when it changes)."""
        channel_id = channel_of(person)
        if self.locales.get(channel_id) != person.locale:
            await self.services.remember_channel_locale(channel_id, person.guild_id, person.locale)
            self.locales[channel_id] = person.locale

    async def act(
        self, interaction: discord.Interaction, move: Move, *, thinking: bool = False, show_line: bool = True
    ) -> None:
        """Every game command's shape: defer, note who moved (and their language), move, answer."""
        await interaction.response.defer(thinking=thinking)
        person = person_of(interaction)
        await self.seen(person)
        await self.reply(interaction, person, await move(person), show_line)

    async def reply(
        self, interaction: discord.Interaction, person: Person, outcome: Outcome, show_line: bool = True
    ) -> None:
        """Answer a move (the interaction was deferred), follow the game's clock, post a finished poem."""
        self.bot.clock.follow(channel_of(person), outcome)
        text = describe(outcome, person.locale, self.name_in(person.locale), show_line) or "…"
        await interaction.edit_original_response(content=text, allowed_mentions=notifying(outcome.turn))
        if outcome.poem_id is not None:
            channel_id = channel_of(person)
            with refused_posts_logged(channel_id):
                await self.post_poem(channel_id, outcome, await self.services.channel_locale(channel_id))

    def _channel(self, channel_id: int) -> discord.PartialMessageable:
        return self.bot.get_partial_messageable(channel_id)

    async def post_outcome(self, channel_id: int, outcome: Outcome) -> None:
        locale = await self.services.channel_locale(channel_id)
        text = describe(outcome, locale, self.name_in(locale))
        with refused_posts_logged(channel_id):
            if text:
                await self._channel(channel_id).send(text, allowed_mentions=notifying(outcome.turn))
            if outcome.poem_id is not None:
                await self.post_poem(channel_id, outcome, locale)

    async def post_reminder(self, channel_id: int, turn: int | None, seconds_left: int) -> None:
        locale = await self.services.channel_locale(channel_id)
        with refused_posts_logged(channel_id):
            await self._channel(channel_id).send(
                reminder(turn, seconds_left, locale, self.name_in(locale)), allowed_mentions=notifying(turn)
            )

    async def post_poem(self, channel_id: int, outcome: Outcome, locale: object) -> None:
        if outcome.poem_id is None:
            return
        card = await self.services.card(outcome.poem_id)
        settings = await self.services.guild_settings(card.guild_id)
        message = await send_poem(
            self._channel(channel_id),
            card,
            with_card=settings.poem_card,
            title=None if card.title else f"{i18n.bilingual(locale, *CHAIN_TITLE)} · {card.form_label}",
            content=poem_credits(outcome, locale, self.name_in(locale)),
        )
        await self.services.attach_message(outcome.poem_id, channel_id, message.id)


@contextmanager
def refused_posts_logged(channel_id: int) -> Iterator[None]:
    """A game's post Discord refuses (the channel deleted, a permission missing) is one line in the
    log: the game goes on, stored, and its players are still answered through their commands."""
    try:
        yield
    except (discord.Forbidden, discord.NotFound) as error:
        log.warning(
            "cannot post in channel %s (%s): the bot needs View Channel, Send Messages, Embed Links and Attach Files",
            channel_id,
            error.text or error.status,
        )


class GameCog(commands.GroupCog):
    """A game's command group: join, line, status and stop are the same for every game (the game
    class says whether a reply repeats the line); the subclass adds its start and any other verb."""

    game: ClassVar[type[TurnGame]]

    def __init__(self, bot: LianjuBot) -> None:
        self.bot = bot
        super().__init__()

    async def play(self, interaction: discord.Interaction, move: Move) -> None:
        await self.bot.posts.act(interaction, move, show_line=self.game.shows_line)

    async def turn_seconds(self, person: Person, chosen: int | None) -> int:
        """The seconds a new game's turns last: as started, else the server's setting, else the bot's default."""
        if chosen is not None:
            return chosen
        return (await self.bot.services.guild_settings(person.guild_id)).turn_seconds[self.game.kind]

    @app_commands.command(name=_("cmd.game.join"), description=_("cmd.game.join.desc"))
    async def join(self, interaction: discord.Interaction) -> None:
        await self.play(
            interaction, lambda person: self.bot.games.join(channel_of(person), self.game.kind, person.as_user)
        )

    @app_commands.command(name=_("cmd.game.line"), description=_("cmd.game.line.desc"))
    @app_commands.rename(line=_("opt.line"))
    @app_commands.describe(line=_("opt.line.desc"))
    async def line(self, interaction: discord.Interaction, line: str) -> None:
        # deferred by act: a 飞花令 near miss searches the corpus for a while
        await self.play(
            interaction,
            lambda person: self.bot.games.submit(channel_of(person), self.game.kind, person.as_user, line, utcnow()),
        )

    @app_commands.command(name=_("cmd.game.status"), description=_("cmd.game.status.desc"))
    async def status(self, interaction: discord.Interaction) -> None:
        person = person_of(interaction)
        game = await self.bot.games.status(channel_of(person))
        await interaction.response.send_message(
            status_text(game, person.locale, self.bot.posts.name_in(person.locale), utcnow()), ephemeral=True
        )

    @app_commands.command(name=_("cmd.game.stop"), description=_("cmd.game.stop.desc"))
    async def stop(self, interaction: discord.Interaction) -> None:
        moderator = bool(interaction.permissions.manage_messages)
        await self.play(
            interaction,
            lambda person: self.bot.games.stop(channel_of(person), self.game.kind, person.as_user, moderator),
        )
