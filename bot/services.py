"""What the bot does, without Discord: the cogs, the console and the scheduler all call this.

`Services.start(settings)` opens the database (migrating SQLite automatically), makes sure a
model is registered and active, and loads the poet with it. Every method takes plain values and
returns plain values; anything a person did wrong comes back as `UserError`, which knows how to
say so in zh-CN, zh-TW and English.

The poet follows the model registry: `follow_registry` (run by the scheduler every
LIANJU_MODEL_CHECK_SECONDS and by the admin commands) swaps it to the active version when that
changed elsewhere (`lianju finetune`, `lianju models promote/rollback`, `/model rollback`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import i18n
from bot.config import Settings
from bot.learning import FinetuneResult, finetune_in_process, forget_rater
from bot.occasions import Occasion
from engine.backends import BackendUnavailable
from engine.batching import Busy
from engine.forms import parse_form, stored_form
from engine.poet import ModelFolderError, Poet, PoetError
from engine.prompts import LINE_ENDS
from engine.text import to_traditional
from storage import limits, repo
from storage.db import Database, ensure_schema
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import DailyPost, GameKind, Guild, ModelVersion, Poem, PoemOrigin, Script

log = logging.getLogger(__name__)

TEMPERATURE_RANGE = (0.1, 1.5)
# At start-up a day's claim never posted is taken over once this old (not after repo.DAILY_CLAIM_STALE):
# a kill -9 left it, and the scheduler, which counted that run as done, would not try the day again.
# Not at once: a process still running (the one being replaced) may be writing it.
DAILY_TAKEOVER_AT_START = timedelta(minutes=1)
METRICS_CHARS = 1500  # a model report stays far below Discord's 2000 characters
PERIODS = {"week": timedelta(days=7), "month": timedelta(days=30), "all": None}


class ModelUnavailable(Exception):
    """Neither the active model nor any model active before it can be loaded."""


class UserError(Exception):
    """Something the person asked for cannot be done; `message(locale)` says why, in their language."""

    def __init__(self, key: str | None = None, *, zh: str = "", en: str = "", **values: object):
        super().__init__(key or en)
        self.key, self.zh, self.en, self.values = key, zh, en, values

    @classmethod
    def from_poet(cls, error: PoetError) -> UserError:
        return cls(zh=error.zh, en=error.en)

    def message(self, locale: object) -> str:
        if self.key:
            return i18n.text(self.key, locale, **self.values)
        return i18n.bilingual(locale, self.zh, self.en)


@dataclass(frozen=True)
class Person:
    """Who is asking, and where: a Discord member, or the console's user."""

    id: int
    display_name: str
    locale: str = i18n.ZH_CN
    guild_id: int | None = None
    channel_id: int | None = None

    @property
    def as_user(self) -> repo.DiscordUser:
        return repo.DiscordUser(self.id, self.display_name)


# What a server may choose for a turn; the bot's own defaults (LIANJU_*_TURN_SECONDS) may be shorter.
TURN_SECONDS_RANGE = (5, 3600)
AUTO_FORM = ("auto", "自动", "自動")  # /poem picks the form itself
FOLLOW_PLAYERS = "players"  # the post language that is each channel's last player's


@dataclass(frozen=True)
class GuildSettings:
    """A server's settings with the bot's defaults filled in: what the cogs and the games use."""

    turn_seconds: dict[GameKind, int]
    default_form: str  # of /poem
    post_locale: str | None  # the language of the bot's channel posts; None: each channel's last player's
    poem_card: bool  # whether poems carry the card image

    def describe(self, locale: object) -> str:
        unit = i18n.bilingual(locale, "秒", "s")
        kinds = i18n.bilingual(locale, "、", ", ").join(
            f"{i18n.text(f'game.{kind.value}', locale)} {seconds} {unit}" for kind, seconds in self.turn_seconds.items()
        )
        return i18n.text(
            "settings.show",
            locale,
            turns=kinds,
            form=i18n.text(f"form.{self.default_form}", locale),
            language=i18n.text(f"language.{self.post_locale or 'players'}", locale),
            card=i18n.text("settings.on" if self.poem_card else "settings.off", locale),
        )


@dataclass(frozen=True)
class PoemRequest:
    theme: str = ""  # may be left empty when a first line is given: the poem is about what the line says
    form: str = "auto"
    acrostic: str | None = None
    temperature: float | None = None
    first_line: str | None = None  # 起句: the poem begins with it, and the rest is written to it


@dataclass(frozen=True)
class PoemCard:
    """A stored poem as it is shown: lines already in the reader's script."""

    poem_id: int
    title: str
    lines: list[str]
    form: str
    rhyme_group: str | None
    model_name: str
    rating_count: int
    rating_mean: float | None
    locale: str  # the language of the labels around the poem
    occasion: str | None = None
    guild_id: int | None = None  # the server it was written in, whose settings say how it is shown

    @property
    def body(self) -> str:
        return "\n".join(line + LINE_ENDS[number % 2] for number, line in enumerate(self.lines))

    @property
    def form_label(self) -> str:
        form = stored_form(self.form)
        label = form.label_zh if form else self.form
        return to_traditional(label) if self.locale == i18n.ZH_TW else label


@dataclass(frozen=True)
class ModelReport:
    """The model the poet serves and, when the registry's active model could not be loaded, that one and why."""

    served: ModelVersion
    unloadable: tuple[ModelVersion, str] | None = None  # the active version that failed to load, and why

    def describe(self, locale: object) -> str:
        model = self.served
        metrics = (
            json.dumps(model.metrics, ensure_ascii=False)[:METRICS_CHARS]
            if model.metrics
            else i18n.text("model.no_metrics", locale)
        )
        since = (model.promoted_at or model.created_at).strftime("%Y-%m-%d")
        lines = [i18n.text("model.info", locale, name=model.name, since=since, path=model.path, metrics=metrics)]
        if self.unloadable is not None:
            version, problem = self.unloadable
            lines.append(
                i18n.text(
                    "model.unloadable",
                    locale,
                    name=version.name,
                    path=version.path,
                    problem=problem[: METRICS_CHARS // 4],
                    served=model.name,
                )
            )
        return "\n".join(lines)


@dataclass
class Services:
    settings: Settings
    database: Database
    poet: Poet
    model: ModelVersion  # the version the poet serves
    unloadable: tuple[ModelVersion, str] | None = None  # the registry's active version when it failed to load, why
    _following: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    # Every version served, by name: a poem finished during a swap is stored with the model that wrote it.
    _served_ids: dict[str, int] = field(default_factory=dict, repr=False)
    _finetune: asyncio.Task[FinetuneResult] | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self._served_ids[self.model.name] = self.model.id

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        database = Database.connect(settings.database_url)
        poet: Poet | None = None
        try:
            await prepare_schema(settings, database.engine)
            async with database.unit_of_work() as session:
                first_start = await repo.active_model(session) is None
                active = await repo.ensure_default_model(session, str(settings.model_dir))
                earlier = await repo.earlier_models(session)
                if first_start:  # loaded before v0 is committed: see _load_default_model
                    poet, model, unloadable = await _load_default_model(settings, active), active, None
            if not first_start:
                poet, model, unloadable = _first_loadable(settings, [active, *earlier])
        except BaseException:
            if poet is not None:  # loaded, and then recording v0 failed
                await poet.close()
            await database.close()
            raise
        assert poet is not None, "each branch above loads a poet or raises"
        return cls(settings, database, poet, model, unloadable)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._finetune is not None:  # its process is terminated; a killed run changes nothing
                self._finetune.cancel()
                await asyncio.gather(self._finetune, return_exceptions=True)
            await self.poet.close()
            await self.database.close()

    # --- poems -----------------------------------------------------------------------------------

    def check_poem_request(self, request: PoemRequest) -> None:
        """Raise the UserError write_poem would raise for bad input, at once: the /poem command
        answers it privately before it says "thinking…" to the channel."""
        try:
            self.poet.check_request(**self._compose_arguments(request))
        except PoetError as error:
            raise UserError.from_poet(error) from None

    def _compose_arguments(self, request: PoemRequest) -> dict:
        temperature = self.settings.poem_temperature if request.temperature is None else request.temperature
        low, high = TEMPERATURE_RANGE
        if temperature is not None and not (
            isinstance(temperature, (int, float)) and math.isfinite(temperature) and low <= temperature <= high
        ):
            raise UserError("error.temperature", low=low, high=high)
        return dict(
            theme=request.theme,
            form=request.form or "auto",
            acrostic=request.acrostic,
            first_line=request.first_line,
            n_candidates=self.settings.poem_candidates,
            temperature=temperature,
        )

    async def write_poem(self, request: PoemRequest, person: Person, *, occasion: Occasion | None = None) -> PoemCard:
        """Compose, store and return the poem. Bad input raises UserError; nothing is stored then."""
        try:
            poem = await self.poet.compose(**self._compose_arguments(request))
        except PoetError as error:
            raise UserError.from_poet(error) from None
        except Busy:
            raise UserError("error.busy") from None
        async with self.database.unit_of_work() as session:
            await self._remember_script_from_locale(session, person)
            saved = await repo.save_poem(
                session,
                repo.NewPoem(
                    lines=poem.lines,
                    form=poem.form,
                    origin=PoemOrigin.DAILY if occasion else PoemOrigin.BOT,
                    theme=poem.params["theme"],
                    acrostic=poem.params["acrostic"],
                    requester=None if occasion else person.as_user,
                    guild_id=person.guild_id,
                    channel_id=person.channel_id,
                    model_version_id=self._served_ids[poem.model_version],
                    sampling=poem.params,
                    seed=poem.seed,
                    prosody=poem.report,
                ),
            )
            return await self._card(session, saved, occasion, new=True)

    async def _remember_script_from_locale(self, session, person: Person) -> None:
        # A first-time user whose Discord speaks zh-TW reads 繁體 from then on (they can change it).
        if person.locale == i18n.ZH_TW and await repo.get_user(session, person.id) is None:
            await repo.upsert_user(session, person.as_user, script=Script.TRADITIONAL)

    async def _card(self, session, poem, occasion: Occasion | None = None, *, new: bool = False) -> PoemCard:
        # a poem saved in this unit of work has no ratings: a query fewer for each /poem of a burst
        rating_count, rating_mean = 0, None
        if not new:
            summary = await repo.rating_summary(session, poem.id)
            rating_count, rating_mean = summary.count, summary.mean
        model = await session.get(ModelVersion, poem.model_version_id) if poem.model_version_id else None
        guild = await repo.get_guild(session, poem.guild_id) if poem.guild_id else None
        requester = await repo.get_user(session, poem.requester_id) if poem.requester_id else None
        traditional = any(who is not None and who.script == Script.TRADITIONAL for who in (guild, requester))
        locale = guild.locale if guild and guild.locale else i18n.ZH_CN
        if traditional and i18n.normalise_locale(locale) != i18n.EN:
            locale = i18n.ZH_TW
        convert = to_traditional if traditional else str
        return PoemCard(
            poem_id=poem.id,
            title=convert(poem.theme or ""),
            lines=[convert(line) for line in poem.lines],
            form=poem.form,
            rhyme_group=convert(rhyme_group) if (rhyme_group := (poem.prosody or {}).get("rhyme_group")) else None,
            model_name=model.name if model else "—",
            rating_count=rating_count,
            rating_mean=rating_mean,
            locale=i18n.normalise_locale(locale),
            occasion=convert(occasion.name) if occasion else None,
            guild_id=poem.guild_id,
        )

    async def card(self, poem_id: int) -> PoemCard:
        async with self.database.unit_of_work() as session:
            try:
                return await self._card(session, await repo.get_poem(session, poem_id))
            except NotFound:
                raise UserError("rating.unknown_poem", poem_id=poem_id) from None

    async def attach_message(self, poem_id: int, channel_id: int, message_id: int) -> None:
        async with self.database.unit_of_work() as session:
            await repo.attach_message(session, poem_id, channel_id, message_id)

    # --- ratings ---------------------------------------------------------------------------------

    async def rate(self, poem_id: int, person: Person, stars: int) -> PoemCard:
        if not limits.STARS_MIN <= stars <= limits.STARS_MAX:
            raise UserError("rating.bad_stars", low=limits.STARS_MIN, high=limits.STARS_MAX)
        if not 0 < poem_id <= limits.SNOWFLAKE_MAX:  # no such id can be stored
            raise UserError("rating.unknown_poem", poem_id=poem_id)
        async with self.database.unit_of_work() as session:
            try:
                await repo.rate(session, poem_id, person.as_user, stars)
            except NotFound:
                raise UserError("rating.unknown_poem", poem_id=poem_id) from None
            except InvalidInput as error:
                raise UserError("error.invalid", problem=error.problem) from None
            return await self._card(session, await repo.get_poem(session, poem_id))

    async def top(self, guild_id: int | None, period: str, limit: int = 10) -> list[repo.RatedPoem]:
        span = PERIODS[period]
        since = datetime.now(UTC) - span if span else None
        async with self.database.unit_of_work() as session:
            return await repo.top_poems(session, guild_id=guild_id, since=since, limit=limit)

    async def my_poems(self, person: Person, limit: int = 10):
        async with self.database.unit_of_work() as session:
            return await repo.user_poems(session, person.id, limit=limit)

    async def set_script(self, person: Person, style: str, *, for_guild: bool) -> None:
        async with self.database.unit_of_work() as session:
            if for_guild:
                if person.guild_id is None:
                    raise UserError("error.guild_only")
                await repo.configure_guild(session, person.guild_id, script=style)
            else:
                await repo.upsert_user(session, person.as_user, script=style)

    # --- server settings -------------------------------------------------------------------------

    def default_turn_seconds(self, kind: GameKind) -> int:
        defaults = {
            GameKind.CHAIN: self.settings.chain_turn_seconds,
            GameKind.FEIHUA: self.settings.feihua_turn_seconds,
            GameKind.DUILIAN: self.settings.duilian_turn_seconds,
        }
        return defaults[kind]

    async def guild_settings(self, guild_id: int | None) -> GuildSettings:
        """The server's settings, the bot's defaults where it chose nothing (and outside any server)."""
        guild = None
        if guild_id is not None:
            async with self.database.unit_of_work() as session:
                guild = await repo.get_guild(session, guild_id)
        chosen = guild.turn_seconds if guild else {}
        return GuildSettings(
            turn_seconds={kind: chosen.get(kind.value, self.default_turn_seconds(kind)) for kind in GameKind},
            default_form=guild.default_form if guild else "auto",
            post_locale=guild.locale if guild else None,
            poem_card=guild.poem_card if guild else True,
        )

    async def set_turn_seconds(self, guild_id: int | None, kind: GameKind, seconds: int) -> GuildSettings:
        low, high = TURN_SECONDS_RANGE
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not low <= seconds <= high:
            raise UserError("settings.bad_turn_seconds", low=low, high=high)
        async with self.database.unit_of_work() as session:
            guild = await repo.configure_guild(session, self._guild_id(guild_id))  # created on first use
            await repo.configure_guild(session, guild.id, turn_seconds={**guild.turn_seconds, kind.value: seconds})
        return await self.guild_settings(guild_id)

    async def set_default_form(self, guild_id: int | None, form: str) -> GuildSettings:
        """auto, or a form by any of its names (qijue, 七绝, 七言绝句)."""
        if form.strip().lower() in AUTO_FORM:
            return await self._configure(guild_id, default_form="auto")
        try:
            chosen = parse_form(form)
        except ValueError:
            raise UserError("settings.bad_form", forms="auto, 五绝, 七绝, 五律, 七律") from None
        return await self._configure(guild_id, default_form=chosen.name)

    async def set_post_locale(self, guild_id: int | None, locale: str | None) -> GuildSettings:
        """The language of the bot's channel posts; None: each channel's last player's."""
        if locale is not None and locale not in i18n.LOCALES:
            raise UserError("settings.bad_language", languages=", ".join(i18n.LOCALES))
        return await self._configure(guild_id, locale=locale)

    async def set_poem_card(self, guild_id: int | None, on: bool) -> GuildSettings:
        return await self._configure(guild_id, poem_card=on)

    @staticmethod
    def _guild_id(guild_id: int | None) -> int:
        if guild_id is None:
            raise UserError("error.guild_only")
        return guild_id

    async def _configure(self, guild_id: int | None, **changes: object) -> GuildSettings:
        async with self.database.unit_of_work() as session:
            await repo.configure_guild(session, self._guild_id(guild_id), **changes)
        return await self.guild_settings(guild_id)

    async def remember_channel_locale(self, channel_id: int, guild_id: int | None, locale: str) -> None:
        async with self.database.unit_of_work() as session:
            await repo.remember_channel_locale(session, channel_id, guild_id, locale)

    async def channel_locale(self, channel_id: int) -> str:
        """The language of the bot's posts in a channel: the server's choice, else the last player's."""
        async with self.database.unit_of_work() as session:
            return await repo.channel_locale(session, channel_id) or i18n.ZH_CN

    # --- privacy ---------------------------------------------------------------------------------

    async def forget(self, person: Person) -> repo.ForgetReport:
        """Remove the person's data everywhere it is kept: their rows in the database (what they made
        with others stays, without their name: storage.repo.forget_user), their stars in the
        fine-tune's feedback stores, and the deleted rows' bytes in the database's files."""
        async with self.database.unit_of_work() as session:
            report = await repo.forget_user(session, person.id)
        await asyncio.to_thread(forget_rater, self.settings, person.id)
        await self.database.erase_deleted()
        return report

    # --- the daily poem --------------------------------------------------------------------------

    async def set_daily(
        self, guild_id: int, channel_id: int, time_text: str | None = None, timezone_name: str | None = None
    ):
        """The daily poem in `channel_id`; a time or zone left out stays as the server set it
        (08:00 Asia/Shanghai at first)."""
        changes: dict[str, object] = {"daily_channel_id": channel_id}
        if time_text is not None:
            changes["daily_time"] = parse_time_of_day(time_text)
        if timezone_name is not None:
            if not limits.is_timezone(timezone_name.strip()):
                raise UserError("daily.bad_timezone", value=timezone_name[:64])
            changes["timezone"] = timezone_name.strip()
        async with self.database.unit_of_work() as session:
            return await repo.configure_guild(session, guild_id, **changes)

    async def daily_off(self, guild_id: int) -> None:
        async with self.database.unit_of_work() as session:
            await repo.configure_guild(session, guild_id, daily_channel_id=None)

    async def daily_guilds(self):
        async with self.database.unit_of_work() as session:
            return await repo.guilds_with_daily_poem(session)

    async def claim_daily(self, guild_id: int, local_date: date, taking_over: bool = False):
        """The day's claim (committed), or None when this guild's poem for that day is taken; `taking_over`
        a claim a killed process left, it need only be DAILY_TAKEOVER_AT_START old."""
        stale_after = DAILY_TAKEOVER_AT_START if taking_over else repo.DAILY_CLAIM_STALE
        async with self.database.unit_of_work() as session:
            return await repo.claim_daily_post(session, guild_id, local_date, stale_after=stale_after)

    async def interrupted_daily_posts(self, now: datetime) -> list[DailyPost]:
        """Claims never posted whose day may still be posted (`daily_deadline`): the process that made
        them was killed while it wrote the poem (a stop waits for the post; a kill -9 does not, and the
        scheduler counts that run as done)."""
        async with self.database.unit_of_work() as session:
            guilds = {guild.id: guild for guild in await repo.guilds_with_daily_poem(session)}
            claims = await repo.unposted_daily_claims(session)
        return [
            claim
            for claim in claims
            if (guild := guilds.get(claim.guild_id)) is not None and now <= self.daily_deadline(guild, claim.local_date)
        ]

    def daily_deadline(self, guild: Guild, local_date: date) -> datetime:
        """How late the guild's poem of that day may still go out: its time that day, plus the grace a
        run the scheduler missed has (LIANJU_DAILY_MISFIRE_GRACE_S)."""
        scheduled = datetime.combine(local_date, guild.daily_time, ZoneInfo(guild.timezone))
        return scheduled + timedelta(seconds=self.settings.daily_misfire_grace_s)

    async def complete_daily(self, post_id: int, poem_id: int, channel_id: int, message_id: int) -> None:
        async with self.database.unit_of_work() as session:
            await repo.attach_message(session, poem_id, channel_id, message_id)
            await repo.complete_daily_post(session, post_id, poem_id, message_id)

    async def release_daily(self, post_id: int) -> None:
        async with self.database.unit_of_work() as session:
            await repo.release_daily_post(session, post_id)

    # --- admin -----------------------------------------------------------------------------------

    async def follow_registry(self) -> ModelReport:
        """Serve the registry's active model if the poet serves another one; report what is served.

        A model that cannot be loaded (a missing or broken folder) is logged and reported, the poet
        keeps serving the model it has, and the next check tries again.
        """
        async with self._following:  # the scheduled check and an admin command may come at once
            async with self.database.unit_of_work() as session:
                active = await repo.active_model(session)
            if active is None or active.id == self.model.id:
                self.unloadable = None
            else:
                await self._serve(active)
        return ModelReport(self.model, self.unloadable)

    async def _serve(self, version: ModelVersion) -> None:
        self._served_ids[version.name] = version.id  # before the swap: new poems may finish before it returns
        try:
            await self.poet.swap(Path(version.path), version.name)
        except Exception as error:  # whatever a broken folder raises, the bot goes on with the model it has
            problem = f"{type(error).__name__}: {error}"
            if self.unloadable is None or (self.unloadable[0].id, self.unloadable[1]) != (version.id, problem):
                log.error(
                    "cannot load model %s from %s (%s); still serving %s",
                    version.name,
                    version.path,
                    problem,
                    self.model.name,
                )
            self.unloadable = (version, problem)
            return
        log.info("now serving model %s (was %s)", version.name, self.model.name)
        self.model, self.unloadable = version, None

    async def roll_back_model(self) -> ModelReport:
        """Make the previously active model active again, and serve it."""
        async with self.database.unit_of_work() as session:
            try:
                await repo.roll_back(session)
            except Conflict:
                raise UserError("model.no_rollback") from None
        return await self.follow_registry()

    def start_finetune(self) -> asyncio.Task[FinetuneResult]:
        """Start `lianju finetune` in a process of its own; one run at a time (UserError while one runs)."""
        if self._finetune is not None and not self._finetune.done():
            raise UserError("finetune.running")
        self._finetune = asyncio.create_task(self._finetune_and_follow())
        return self._finetune

    async def _finetune_and_follow(self) -> FinetuneResult:
        result = await finetune_in_process(self.settings)
        await self.follow_registry()  # a promoted candidate is served at once, not at the next check
        return result


async def prepare_schema(settings: Settings, engine: AsyncEngine) -> None:
    """The schema at head before anything reads it: migrated automatically for the embedded SQLite,
    refused with what to run for PostgreSQL, which is migrated on purpose (LIANJU_UPGRADE_SCHEMA)."""
    upgrade = settings.upgrade_schema
    if upgrade is None:
        upgrade = engine.dialect.name == "sqlite"
    await ensure_schema(engine, upgrade=upgrade)


async def _load_default_model(settings: Settings, default: ModelVersion) -> Poet:
    """The poet for the folder the registry is recording as v0, loaded inside the transaction that
    records it: once committed, v0 is where the bot falls back to for good, and a broken path there
    would outlive the setting that named it."""
    try:
        return await asyncio.to_thread(
            Poet, settings.model_dir, settings.backend, settings.corpus_lines, version=default.name
        )
    except (ModelFolderError, BackendUnavailable) as error:  # Poet says what is wrong and what to do
        raise ModelUnavailable(f"{error} (nothing was recorded in the model registry)") from None


def _first_loadable(
    settings: Settings, versions: list[ModelVersion]
) -> tuple[Poet, ModelVersion, tuple[ModelVersion, str] | None]:
    """The poet with the first of `versions` (the active one, then the ones active before it) that
    loads; when the active one does not, it comes back as unloadable with why, so the bot serves
    the last good model and says to roll back instead of not starting."""
    active, unloadable = versions[0], None
    for version in versions:
        try:
            poet = Poet(Path(version.path), settings.backend, settings.corpus_lines, version=version.name)
        except Exception as error:  # whatever a broken folder raises, an earlier model may still load
            problem = f"{type(error).__name__}: {error}"
            log.error("cannot load model %s from %s (%s)", version.name, version.path, problem)
            unloadable = unloadable or (active, problem)
            continue
        if unloadable is not None:
            log.error("serving %s instead; run `lianju models rollback` to make it active", version.name)
        return poet, version, unloadable
    raise ModelUnavailable(
        f"no model in the registry can be loaded (the active one, {active.name} at {active.path}: "
        f"{unloadable[1] if unloadable else '?'}); fix the folder or promote a version that loads"
    )


_TIME = re.compile(r"^\s*(\d{1,2})\s*[:：点點]\s*(\d{2})?\s*分?\s*$")


def forgotten_text(report: repo.ForgetReport, locale: object) -> str:
    """What /forgetme did, in the person's language."""
    return i18n.text(
        "forget.done",
        locale,
        ratings=report.ratings_deleted,
        poems=report.poems_deleted,
        anonymised=report.poems_unlinked + report.lines_anonymised + report.turns_anonymised,
    )


def top_entry(rank: int, entry: repo.RatedPoem, locale: object) -> str:
    """One poem of /top: its rank, title, mean rating and votes, then its first line."""
    return (
        i18n.text(
            "top.entry",
            locale,
            rank=rank,
            title=i18n.verse(locale, entry.poem.theme or "—"),
            mean=f"{entry.rating.mean:.1f}",
            count=entry.rating.count,
        )
        + f"\n> {i18n.verse(locale, entry.poem.lines[0])}……"
    )


def my_poems_entry(poem: Poem, locale: object, first_line_chars: int | None = None) -> str:
    """One poem of /mypoems: its number, title and the start of its first line."""
    return i18n.text(
        "mypoems.entry",
        locale,
        poem_id=poem.id,
        title=i18n.verse(locale, poem.theme or "—"),
        first_line=i18n.verse(locale, poem.lines[0][:first_line_chars]),
    )


def daily_run_date(now_local: datetime, at: time) -> date:
    """The local day a daily run at `at` belongs to: a run the scheduler catches up after midnight
    (within its grace time) is the day before's, not the new day's."""
    return now_local.date() if now_local.time() >= at else now_local.date() - timedelta(days=1)


def parse_time_of_day(value: str) -> time:
    """08:00, 8:00, 8：00, 8点, 8点30 → a time of day; anything else is a UserError."""
    match = _TIME.match(value or "")
    if match:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise UserError("daily.bad_time", value=(value or "")[:32])
