"""Poems: saving what the bot and the games wrote, with each line's author, and finding them again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import limits
from storage.errors import InvalidInput
from storage.models import Game, ModelVersion, Poem, PoemAuthor, PoemOrigin
from storage.repo.common import get_or_raise, parse_enum
from storage.repo.people import DiscordUser, upsert_users


@dataclass(frozen=True)
class NewPoem:
    """A poem to save. `line_authors`, for collaborative poems, gives each line's writer (None: the bot)."""

    lines: Sequence[str]
    form: str
    origin: PoemOrigin | str
    theme: str | None = None
    acrostic: str | None = None
    requester: DiscordUser | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None
    game_id: int | None = None
    model_version_id: int | None = None
    sampling: dict[str, Any] | None = None
    seed: int | None = None
    prosody: dict[str, Any] | None = None
    line_authors: Sequence[DiscordUser | None] | None = None

    def __post_init__(self) -> None:
        lines = limits.poem_lines(self.lines)
        object.__setattr__(self, "lines", lines)
        object.__setattr__(self, "origin", parse_enum("origin", PoemOrigin, self.origin))
        if self.origin == PoemOrigin.USER and self.requester is None:
            raise InvalidInput("requester", "a submitted poem needs the person who submitted it")
        limits.text("form", self.form, limits.SHORT_LABEL_MAX)
        limits.optional_text("theme", self.theme, limits.THEME_MAX)
        limits.optional_text("acrostic", self.acrostic, limits.ACROSTIC_MAX)
        for name in ("guild_id", "channel_id", "message_id"):
            limits.optional_snowflake(name, getattr(self, name))
        for name in ("sampling", "prosody"):
            if getattr(self, name) is not None:
                limits.json_object(name, getattr(self, name))
        if self.seed is not None:
            limits.integer("seed", self.seed, -(2**63), 2**63 - 1)
        if self.line_authors is not None and len(self.line_authors) != len(lines):
            raise InvalidInput(
                "line_authors", f"has {len(self.line_authors)} entries for {len(lines)} lines; give one per line"
            )


async def save_poem(session: AsyncSession, poem: NewPoem) -> Poem:
    await upsert_users(session, [poem.requester, *(poem.line_authors or ())])
    if poem.model_version_id is not None:
        await get_or_raise(session, ModelVersion, poem.model_version_id, "model version")
    if poem.game_id is not None:
        await get_or_raise(session, Game, poem.game_id, "game")
    row = Poem(
        text="\n".join(poem.lines),
        form=poem.form,
        origin=poem.origin,
        theme=poem.theme,
        acrostic=poem.acrostic,
        requester_id=poem.requester.id if poem.requester else None,
        guild_id=poem.guild_id,
        channel_id=poem.channel_id,
        message_id=poem.message_id,
        game_id=poem.game_id,
        model_version_id=poem.model_version_id,
        sampling=poem.sampling,
        seed=poem.seed,
        prosody=poem.prosody,
        authors=[
            PoemAuthor(line_no=number, user_id=author.id if author else None, by_bot=author is None)
            for number, author in enumerate(poem.line_authors or ())
        ],
    )
    session.add(row)
    await session.flush()
    return row


async def get_poem(session: AsyncSession, poem_id: int) -> Poem:
    return await get_or_raise(session, Poem, poem_id, "poem")


async def attach_message(session: AsyncSession, poem_id: int, channel_id: int, message_id: int) -> Poem:
    """Record where the poem was posted, once the reply exists."""
    poem = await get_poem(session, poem_id)
    poem.channel_id = limits.snowflake("channel_id", channel_id)
    poem.message_id = limits.snowflake("message_id", message_id)
    await session.flush()
    return poem


async def user_poems(
    session: AsyncSession, user_id: int, *, limit: int = 20, before_id: int | None = None
) -> list[Poem]:
    """Poems the user asked for or wrote a line of, newest first; page with `before_id`."""
    limits.snowflake("user id", user_id)
    wrote_a_line = exists().where(PoemAuthor.poem_id == Poem.id, PoemAuthor.user_id == user_id)
    query = select(Poem).where(or_(Poem.requester_id == user_id, wrote_a_line))
    if before_id is not None:
        query = query.where(Poem.id < before_id)
    result = await session.scalars(query.order_by(Poem.id.desc()).limit(limits.integer("limit", limit, 1, 100)))
    return list(result)
