"""How a poem looks in Discord, and its rating buttons.

The buttons are `DynamicItem`s: the custom_id `lianju:rate:<poem id>:<stars>` carries all the
state, so a click on a poem posted before a restart still lands (the bot registers the item
class with `add_dynamic_items`, no view has to be kept in memory).
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import TYPE_CHECKING

import discord

from bot import i18n
from bot.card import CardOptions, render_card
from bot.services import Person, PoemCard, UserError

if TYPE_CHECKING:
    from bot.discord.app import LianjuBot

log = logging.getLogger(__name__)

STARS = range(1, 6)
EMBED_COLOUR = discord.Colour.from_rgb(158, 42, 43)  # 朱砂
CARD_FILENAME = "poem.png"


def person_of(interaction: discord.Interaction) -> Person:
    user = interaction.user
    return Person(
        id=user.id,
        display_name=(user.display_name or user.name)[:100],
        locale=i18n.normalise_locale(interaction.locale),
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
    )


def channel_of(person: Person) -> int:
    """The channel of a person_of(interaction). Discord names it in every command and click it sends
    (only its pings have none, and discord.py answers those itself)."""
    assert person.channel_id is not None, "an interaction from a command or a button names its channel"
    return person.channel_id


def guild_id_of(interaction: discord.Interaction) -> int:
    """The server of a guild-only command; outside one, the error discord.py's guild checks raise."""
    if interaction.guild_id is None:
        raise discord.app_commands.NoPrivateMessage()
    return interaction.guild_id


def footer_text(card: PoemCard) -> str:
    footer = i18n.text("poem.footer", card.locale, model=card.model_name, poem_id=card.poem_id)
    if card.rating_count:
        rating = i18n.text("poem.rated", card.locale, count=card.rating_count, mean=f"{card.rating_mean:.1f}")
    else:
        rating = i18n.text("poem.unrated", card.locale)
    return f"{footer} · {rating}"


def poem_embed(card: PoemCard) -> discord.Embed:
    title = f"《{card.title}》"
    if card.occasion:
        title = f"{i18n.text('poem.daily_title', card.locale, occasion=card.occasion)}  {title}"
    embed = discord.Embed(title=title, description=card.body, colour=EMBED_COLOUR)
    embed.add_field(name=i18n.text("poem.form", card.locale), value=card.form_label)
    embed.add_field(name=i18n.text("poem.rhyme", card.locale), value=card.rhyme_group or "—")
    embed.set_footer(text=footer_text(card))
    return embed


async def poem_message(card: PoemCard, *, with_card: bool = True) -> tuple[discord.Embed, list[discord.File]]:
    """The poem's embed and, with the card on, the card's PNG shown as the embed's image."""
    embed = poem_embed(card)
    if not with_card:
        return embed, []
    options = CardOptions(
        traditional=card.locale == i18n.ZH_TW,
        title=card.title,
        rhyme_group=card.rhyme_group,
        form=card.form,
        model_version=card.model_name,
    )
    png = await asyncio.to_thread(render_card, card.lines, options)  # ~5 ms of CPU (bench/card.py): off the event loop
    embed.set_image(url=f"attachment://{CARD_FILENAME}")
    return embed, [discord.File(io.BytesIO(png), CARD_FILENAME)]


async def send_poem(
    channel: discord.PartialMessageable,
    card: PoemCard,
    *,
    with_card: bool,
    title: str | None = None,
    content: str | None = None,
) -> discord.Message:
    """Post a poem with its rating buttons in a channel (the daily poem, a finished 联句). Where the
    bot may not attach files (servers that invited it before it asked for Attach Files) the poem goes
    out without its card rather than not at all; any other refusal is raised."""
    embed, files = await poem_message(card, with_card=with_card)
    if title is not None:
        embed.title = title
    try:
        return await channel.send(content=content, embed=embed, files=files, view=rating_view(card.poem_id))
    except discord.Forbidden:
        if not files:
            raise
        # Discord says 50013 for a missing Attach Files as for a missing Send Messages: try without
        sent = await send_poem(channel, card, with_card=False, title=title, content=content)
        log.warning(
            "poem #%s posted in channel %s without its card: the bot may not attach files", card.poem_id, channel.id
        )
        return sent


class RatingButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"lianju:rate:(?P<poem_id>[0-9]{1,19}):(?P<stars>[1-5])",
):
    def __init__(self, poem_id: int, stars: int) -> None:
        self.poem_id, self.stars = poem_id, stars
        super().__init__(
            discord.ui.Button(
                label="★" * stars,
                style=discord.ButtonStyle.secondary,
                custom_id=f"lianju:rate:{poem_id}:{stars}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View], match: re.Match[str], /
    ) -> RatingButton:
        return cls(int(match["poem_id"]), int(match["stars"]))

    async def callback(self, interaction: discord.Interaction[LianjuBot]) -> None:  # type: ignore[override]
        interaction.client.handling()
        person = person_of(interaction)
        try:
            card = await interaction.client.services.rate(self.poem_id, person, self.stars)
        except UserError as error:
            await interaction.response.send_message(error.message(person.locale), ephemeral=True)
            return
        # One response updates the poem's footer; the thanks follow, visible only to the rater.
        embed = poem_embed(card)
        shown = interaction.message.embeds if interaction.message else []
        if shown:
            # The title as posted stays: a 联句's or a daily poem's is set where it was posted, not by the card.
            embed.title = shown[0].title
            if shown[0].image.url:  # the card stays the embed's image
                embed.set_image(url=shown[0].image.url)
        await interaction.response.edit_message(embed=embed, view=rating_view(card.poem_id))
        await interaction.followup.send(
            i18n.text("rating.thanks", person.locale, poem_id=card.poem_id, stars=self.stars), ephemeral=True
        )


def rating_view(poem_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for stars in STARS:
        view.add_item(RatingButton(poem_id, stars))
    return view
