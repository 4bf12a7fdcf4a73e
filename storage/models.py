"""The tables. Everything people make with the bot is kept here: poems, ratings, game turns.

Discord ids (users, guilds, channels, messages) are stored as they come, as 64-bit integers.
Times are aware UTC datetimes on every dialect (see `UTCDateTime`).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage import limits

# Constraint names must be deterministic so that SQLite and PostgreSQL agree and migrations can
# name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
SurrogateKey = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out. SQLite has no time zones, so it keeps naive UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing a naive datetime {value!r}: give it a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Script(enum.StrEnum):
    SIMPLIFIED = "simplified"  # 简
    TRADITIONAL = "traditional"  # 繁


class PoemOrigin(enum.StrEnum):
    BOT = "bot"  # /poem
    GAME = "game"  # the poem a 联句 game wrote
    DAILY = "daily"  # the daily post
    USER = "user"  # submitted by a person


class GameKind(enum.StrEnum):
    CHAIN = "chain"  # 联句
    FEIHUA = "feihua"  # 飞花令
    DUILIAN = "duilian"  # 对对联


class GameStatus(enum.StrEnum):
    ACTIVE = "active"
    FINISHED = "finished"
    ABANDONED = "abandoned"


class ModelStatus(enum.StrEnum):
    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"


class FinetuneOutcome(enum.StrEnum):
    RUNNING = "running"
    PROMOTED = "promoted"  # passed the gates and became the active model
    REJECTED = "rejected"  # trained, but a gate failed
    FAILED = "failed"  # did not finish (error, killed, no data)


def stored_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    """A VARCHAR with a CHECK rather than a native ENUM, so adding a value is a plain migration."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def unique_while_active(name: str, column: str) -> Index:
    """A unique index over the rows whose status is 'active' (both dialects support partial indexes)."""
    active = sql_text("status = 'active'")
    return Index(name, column, unique=True, sqlite_where=active, postgresql_where=active)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # Discord user id
    display_name: Mapped[str] = mapped_column(String(limits.DISPLAY_NAME_MAX))
    script: Mapped[Script] = mapped_column(stored_enum(Script, "script"), default=Script.SIMPLIFIED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Guild(Base):
    __tablename__ = "guilds"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # Discord guild id
    # The language of the bot's posts in the guild's channels; None: each channel's last player's language.
    locale: Mapped[str | None] = mapped_column(String(limits.SHORT_LABEL_MAX))
    script: Mapped[Script] = mapped_column(stored_enum(Script, "script"), default=Script.SIMPLIFIED)
    daily_channel_id: Mapped[int | None] = mapped_column(BigInteger)  # no daily poem when unset
    daily_time: Mapped[time] = mapped_column(Time, default=time(8, 0))  # local time in `timezone`
    timezone: Mapped[str] = mapped_column(String(limits.TIMEZONE_MAX), default="Asia/Shanghai")
    default_form: Mapped[str] = mapped_column(String(limits.SHORT_LABEL_MAX), default="auto")  # of /poem
    # Time per turn by game kind (GameKind values); a game not named here takes the bot's default.
    turn_seconds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    poem_card: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Channel(Base):
    """What the bot remembers of a channel: the language of the last person who played there, which
    its posts use when the guild chose none (so posts after a restart speak as before)."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # Discord channel id
    guild_id: Mapped[int | None] = mapped_column(BigInteger)  # None: a direct message or the console
    locale: Mapped[str] = mapped_column(String(limits.SHORT_LABEL_MAX))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        # At most one active model, enforced by the database so two promotions cannot both win.
        unique_while_active("uq_model_versions_one_active", "status"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True)
    name: Mapped[str] = mapped_column(String(limits.MODEL_NAME_MAX), unique=True)
    path: Mapped[str] = mapped_column(String(limits.PATH_MAX))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[ModelStatus] = mapped_column(stored_enum(ModelStatus, "model_status"), default=ModelStatus.CANDIDATE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When it last became active by promotion; a rollback restores a version without touching it,
    # so repeated rollbacks walk back through the promotion history.
    promoted_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class FinetuneRun(Base):
    __tablename__ = "finetune_runs"

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True)
    base_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    candidate_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    data_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. rated poems, corpus poems
    gates: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # gate name → value, threshold, passed
    outcome: Mapped[FinetuneOutcome] = mapped_column(
        stored_enum(FinetuneOutcome, "finetune_outcome"), default=FinetuneOutcome.RUNNING
    )
    detail: Mapped[str | None] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(String(limits.PATH_MAX))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class Game(Base):
    __tablename__ = "games"
    __table_args__ = (
        # One running game per channel, even when two people start one at the same moment.
        unique_while_active("uq_games_one_active_per_channel", "channel_id"),
        Index("ix_games_status", "status"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True)
    kind: Mapped[GameKind] = mapped_column(stored_enum(GameKind, "game_kind"))
    status: Mapped[GameStatus] = mapped_column(stored_enum(GameStatus, "game_status"), default=GameStatus.ACTIVE)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    form: Mapped[str | None] = mapped_column(String(limits.SHORT_LABEL_MAX))
    rhyme_group: Mapped[str | None] = mapped_column(String(limits.SHORT_LABEL_MAX))
    keyword: Mapped[str | None] = mapped_column(String(limits.SHORT_LABEL_MAX))  # 飞花令's character
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    turn_count: Mapped[int] = mapped_column(Integer, default=0)  # turns recorded, accepted or not
    current_seat: Mapped[int] = mapped_column(Integer, default=0)  # the seat whose turn it is
    turn_seconds: Mapped[int | None] = mapped_column(Integer)  # None: turns have no deadline
    turn_deadline: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    players: Mapped[list[GamePlayer]] = relationship(
        order_by="GamePlayer.seat", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )
    turns: Mapped[list[GameTurn]] = relationship(
        order_by="GameTurn.number", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )


class GamePlayer(Base):
    __tablename__ = "game_players"
    __table_args__ = (UniqueConstraint("game_id", "seat"),)

    game_id: Mapped[int] = mapped_column(ForeignKey("games.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    seat: Mapped[int] = mapped_column(Integer)  # turn order; gaps are skipped
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class GameTurn(Base):
    __tablename__ = "game_turns"
    __table_args__ = (
        UniqueConstraint("game_id", "number"),
        CheckConstraint("accepted OR reason IS NOT NULL", name="rejection_has_reason"),
        CheckConstraint("NOT (by_bot AND player_id IS NOT NULL)", name="bot_turn_has_no_player"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … within the game
    # NULL with by_bot false: a player who asked to be forgotten.
    player_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    by_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    line: Mapped[str] = mapped_column(String(limits.LINE_MAX))
    accepted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(limits.REASON_MAX))  # why it was rejected
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Poem(Base):
    __tablename__ = "poems"
    __table_args__ = (Index("ix_poems_guild_id_created_at", "guild_id", "created_at"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True)
    text: Mapped[str] = mapped_column(Text)  # the lines joined by "\n"; a line never holds one
    form: Mapped[str] = mapped_column(String(limits.SHORT_LABEL_MAX))
    theme: Mapped[str | None] = mapped_column(String(limits.THEME_MAX))
    acrostic: Mapped[str | None] = mapped_column(String(limits.ACROSTIC_MAX))
    origin: Mapped[PoemOrigin] = mapped_column(stored_enum(PoemOrigin, "poem_origin"))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    game_id: Mapped[int | None] = mapped_column(ForeignKey("games.id", ondelete="SET NULL"))
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    sampling: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # temperature, top_k, top_p …
    seed: Mapped[int | None] = mapped_column(BigInteger)
    prosody: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # scores from engine.prosody
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    authors: Mapped[list[PoemAuthor]] = relationship(
        order_by="PoemAuthor.line_no", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


class PoemAuthor(Base):
    """Who wrote one line of a collaborative poem."""

    __tablename__ = "poem_authors"
    __table_args__ = (CheckConstraint("NOT (by_bot AND user_id IS NOT NULL)", name="bot_line_has_no_user"),)

    poem_id: Mapped[int] = mapped_column(ForeignKey("poems.id", ondelete="CASCADE"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0-based index into Poem.lines
    # NULL with by_bot false: an author who asked to be forgotten.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    by_bot: Mapped[bool] = mapped_column(Boolean, default=False)


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("poem_id", "user_id"),
        CheckConstraint(f"stars BETWEEN {limits.STARS_MIN} AND {limits.STARS_MAX}", name="stars_in_range"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True)
    poem_id: Mapped[int] = mapped_column(ForeignKey("poems.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stars: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DailyPost(Base):
    """A guild's poem of the day; the unique (guild, local date) makes a day's claim exclusive."""

    __tablename__ = "daily_posts"
    __table_args__ = (UniqueConstraint("guild_id", "local_date"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True)
    guild_id: Mapped[int] = mapped_column(ForeignKey("guilds.id", ondelete="CASCADE"))
    local_date: Mapped[date] = mapped_column(Date)  # the day in the guild's time zone
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    poem_id: Mapped[int | None] = mapped_column(ForeignKey("poems.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    posted_at: Mapped[datetime | None]  # None: claimed, not (yet) posted
