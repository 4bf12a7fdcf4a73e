"""Poems, ratings and the queries over them, on both databases."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage import limits, repo
from storage.errors import InvalidInput, NotFound
from storage.models import PoemOrigin
from storage.repo import BayesianPrior, DiscordUser, NewPoem

GUILD = 111_111_111_111_111_111
CHANNEL = 222_222_222_222_222_222
DUFU = DiscordUser(1001, "杜甫")
LIBAI = DiscordUser(1002, "李白")
CHUNWANG = ["国破山河在", "城春草木深", "感时花溅泪", "恨别鸟惊心"]


def bot_poem(lines=CHUNWANG, **fields) -> NewPoem:
    return NewPoem(**{"lines": lines, "form": "wujue", "origin": PoemOrigin.BOT, "requester": DUFU, **fields})


async def save(db, poem: NewPoem):
    async with db.unit_of_work() as session:
        return await repo.save_poem(session, poem)


async def test_a_poem_round_trips_with_everything_about_it(db):
    model = None
    async with db.unit_of_work() as session:
        model = await repo.ensure_default_model(session, "engine/weights")
    saved = await save(
        db,
        bot_poem(
            theme="春",
            acrostic="国城感恨",
            guild_id=GUILD,
            channel_id=CHANNEL,
            message_id=2**63 - 1,
            model_version_id=model.id,
            sampling={"temperature": 0.8, "top_k": 40, "top_p": 0.95},
            seed=-(2**63),
            prosody={"tone_score": 1.0, "rhyme_ok": True, "reasons": ["押平水韵下平十二侵", '\\u0000 "引" 🌙']},
        ),
    )
    async with db.unit_of_work() as session:
        poem = await repo.get_poem(session, saved.id)
    assert poem.lines == CHUNWANG and poem.text == "\n".join(CHUNWANG)
    assert (poem.form, poem.theme, poem.acrostic, poem.origin) == ("wujue", "春", "国城感恨", PoemOrigin.BOT)
    assert (poem.requester_id, poem.guild_id, poem.channel_id, poem.message_id) == (DUFU.id, GUILD, CHANNEL, 2**63 - 1)
    assert poem.model_version_id == model.id and poem.seed == -(2**63)
    assert poem.sampling == {"temperature": 0.8, "top_k": 40, "top_p": 0.95}
    assert poem.prosody["reasons"] == ["押平水韵下平十二侵", '\\u0000 "引" 🌙']
    assert poem.created_at.tzinfo == UTC
    assert abs(poem.created_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_collaborative_poem_keeps_who_wrote_which_line(db):
    saved = await save(db, bot_poem(origin="game", requester=None, line_authors=[DUFU, None, LIBAI, DUFU]))
    async with db.unit_of_work() as session:
        poem = await repo.get_poem(session, saved.id)
        assert [(a.line_no, a.user_id, a.by_bot) for a in poem.authors] == [
            (0, DUFU.id, False),
            (1, None, True),
            (2, LIBAI.id, False),
            (3, DUFU.id, False),
        ]
        assert (await repo.get_user(session, LIBAI.id)).display_name == "李白"


TRICKY_TEXT = [
    "月🌙下独酌👨‍👩‍👧",
    "床前'明月'光\"疑是\"",
    "'); DROP TABLE poems; --",
    "Robert'); DELETE FROM ratings WHERE ('1'='1",
    "\\x00 \\n %s %(name)s {0} $1 ?",
    "ｆｕｌｌｗｉｄｔｈ　全角空格",
    "é vs é",  # composed and decomposed: stored as given, not normalised
    " 前后有空格 ",
]


@pytest.mark.parametrize("line", TRICKY_TEXT)
async def test_tricky_text_round_trips_unchanged(db, line):
    saved = await save(db, bot_poem([line, "二"], theme=line[: limits.THEME_MAX], requester=DiscordUser(7, line)))
    async with db.unit_of_work() as session:
        poem = await repo.get_poem(session, saved.id)
        user = await repo.get_user(session, 7)
    assert poem.lines == [line, "二"] and poem.theme == line and user.display_name == line


async def test_the_longest_poem_allowed_round_trips(db):
    lines = ["🌙" * limits.LINE_MAX] * (limits.POEM_TEXT_MAX // (limits.LINE_MAX + 1))
    saved = await save(db, bot_poem(lines))
    async with db.unit_of_work() as session:
        assert (await repo.get_poem(session, saved.id)).lines == lines


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"lines": []}, "lines: has 0 lines; a poem has 1 to 100"),
        ({"lines": "床前明月光"}, "lines: expected a list of lines"),
        ({"lines": ["床前明月光", "  "]}, "lines[1]: is empty"),
        ({"lines": ["月" * 10_000]}, "lines[0]: is 10,000 characters long; the limit is 100"),
        ({"lines": ["月" * 100] * 20}, "lines: are 2,019 characters long in all; the limit is 1,800"),
        ({"lines": ["床前\n明月光"]}, "lines[0]: contains the control character U+000A at position 2"),
        ({"lines": ["床前\x00明月光"]}, "lines[0]: contains the control character U+0000 at position 2"),
        ({"lines": ["床前\ud800"]}, "lines[0]: is not valid Unicode (a lone surrogate at position 2)"),
        ({"lines": [42]}, "lines[0]: expected text, got int"),
        ({"theme": "春" * 101}, "theme: is 101 characters long; the limit is 100"),
        ({"origin": "stolen"}, "origin: 'stolen' is not one of: bot, game, daily, user"),
        ({"origin": "user", "requester": None}, "requester: a submitted poem needs the person"),
        ({"guild_id": -5}, "guild_id: expected a Discord id"),
        ({"guild_id": 2**64}, "guild_id: expected a Discord id"),
        ({"sampling": {"temperature": float("nan")}}, "sampling: is not plain JSON"),
        ({"prosody": {"note": "\x00"}}, "prosody: contains the character U+0000"),
        ({"sampling": {"theme": "\ud83c"}}, "sampling: is not valid Unicode (surrogates not allowed at position 11)"),
        ({"prosody": {"blob": "x" * 20_000}}, "prosody: is 20,012 bytes as JSON; the limit is 16,384"),
        ({"line_authors": [DUFU]}, "line_authors: has 1 entries for 4 lines"),
    ],
)
def test_bad_poems_are_refused_with_a_clear_message(fields, message):
    with pytest.raises(InvalidInput) as refused:
        bot_poem(**fields)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    "user, message",
    [
        (lambda: DiscordUser(0, "无名"), "user id: expected a Discord id"),
        (lambda: DiscordUser(True, "无名"), "user id: expected a Discord id"),
        (lambda: DiscordUser(1, ""), "display_name: is empty"),
        (lambda: DiscordUser(1, "名" * 101), "display_name: is 101 characters long; the limit is 100"),
        (lambda: DiscordUser(1, "tab\there"), "display_name: contains the control character U+0009"),
    ],
)
def test_bad_users_are_refused(user, message):
    with pytest.raises(InvalidInput) as refused:
        user()
    assert message in str(refused.value)


async def test_a_poem_naming_a_missing_model_or_game_is_refused(db):
    with pytest.raises(NotFound, match="model version 999 does not exist"):
        await save(db, bot_poem(model_version_id=999))
    with pytest.raises(NotFound, match="game 999 does not exist"):
        await save(db, bot_poem(game_id=999))
    async with db.unit_of_work() as session:
        assert await repo.user_poems(session, DUFU.id) == []  # nothing half-saved


async def test_attach_message_records_where_the_poem_was_posted(db):
    saved = await save(db, bot_poem())
    async with db.unit_of_work() as session:
        await repo.attach_message(session, saved.id, CHANNEL, 333)
    async with db.unit_of_work() as session:
        poem = await repo.get_poem(session, saved.id)
        assert (poem.channel_id, poem.message_id) == (CHANNEL, 333)
        with pytest.raises(NotFound):
            await repo.attach_message(session, 999_999, CHANNEL, 333)


async def rate(db, poem_id, user, stars):
    async with db.unit_of_work() as session:
        return await repo.rate(session, poem_id, user, stars)


DEFAULT_PRIOR = BayesianPrior()


async def summary(db, poem_id, prior=DEFAULT_PRIOR):
    async with db.unit_of_work() as session:
        return await repo.rating_summary(session, poem_id, prior)


async def test_rerating_replaces_the_users_rating(db):
    poem = await save(db, bot_poem())
    first = await rate(db, poem.id, LIBAI, 2)
    second = await rate(db, poem.id, LIBAI, 5)
    assert second.id == first.id and second.stars == 5
    assert second.created_at == first.created_at and second.updated_at >= first.updated_at
    result = await summary(db, poem.id)
    assert (result.count, result.mean) == (1, 5.0)


async def test_fifty_concurrent_raters_leave_one_rating_each(db):
    poem = await save(db, bot_poem())
    raters = [DiscordUser(10_000 + n, f"读者{n}") for n in range(50)]
    stars = [n % 5 + 1 for n in range(50)]
    # Every rater clicks twice at once (a double click): the second click must not add a row.
    clicks = [rate(db, poem.id, user, star) for user, star in zip(raters, stars)] * 2
    await asyncio.gather(*clicks)

    result = await summary(db, poem.id)
    assert result.count == 50
    assert result.mean == pytest.approx(sum(stars) / 50)
    assert result.bayesian_mean == pytest.approx((3.0 * 5 + sum(stars)) / 55)

    # Then ten of them change their minds, concurrently.
    await asyncio.gather(*(rate(db, poem.id, user, 1) for user in raters[:10]))
    changed = stars[:]
    changed[:10] = [1] * 10
    result = await summary(db, poem.id)
    assert result.count == 50 and result.mean == pytest.approx(sum(changed) / 50)


async def test_rating_summary_of_an_unrated_poem_is_the_prior(db):
    poem = await save(db, bot_poem())
    result = await summary(db, poem.id, BayesianPrior(mean=3.5, votes=2))
    assert (result.count, result.mean, result.bayesian_mean) == (0, None, 3.5)


@pytest.mark.parametrize("stars", [0, 6, -1, 2.5, "5", True, None])
async def test_bad_stars_are_refused(db, stars):
    poem = await save(db, bot_poem())
    with pytest.raises(InvalidInput, match="stars: expected an integer from 1 to 5"):
        await rate(db, poem.id, LIBAI, stars)


async def test_rating_a_missing_poem_says_so(db):
    with pytest.raises(NotFound, match="poem 424242 does not exist"):
        await rate(db, 424242, LIBAI, 5)


def test_bad_priors_are_refused():
    with pytest.raises(InvalidInput, match="prior mean"):
        BayesianPrior(mean=7)
    with pytest.raises(InvalidInput, match="prior votes: must be positive"):
        BayesianPrior(votes=0)


async def rate_many(db, poem_id, stars: list[int], first_user: int = 50_000):
    for offset, star in enumerate(stars):
        await rate(db, poem_id, DiscordUser(first_user + offset, f"u{offset}"), star)


async def test_top_poems_rank_by_bayesian_mean_per_guild_and_period(db):
    one_loud_vote = await save(db, bot_poem(guild_id=GUILD))
    many_good_votes = await save(db, bot_poem(guild_id=GUILD))
    middling = await save(db, bot_poem(guild_id=GUILD))
    elsewhere = await save(db, bot_poem(guild_id=GUILD + 1))
    unrated = await save(db, bot_poem(guild_id=GUILD))
    await rate_many(db, one_loud_vote.id, [5])
    await rate_many(db, many_good_votes.id, [5, 5, 4, 5, 5, 4, 5, 5, 5, 5])
    await rate_many(db, middling.id, [3, 4, 3])
    await rate_many(db, elsewhere.id, [5] * 20)

    async with db.unit_of_work() as session:
        top = await repo.top_poems(session, guild_id=GUILD)
        assert [entry.poem.id for entry in top] == [many_good_votes.id, one_loud_vote.id, middling.id]
        assert unrated.id not in [entry.poem.id for entry in top]
        assert top[0].rating.count == 10 and top[0].rating.mean == pytest.approx(4.8)
        assert top[0].rating.bayesian_mean == pytest.approx((15 + 48) / 15)

        everywhere = await repo.top_poems(session, limit=2)
        assert [entry.poem.id for entry in everywhere] == [elsewhere.id, many_good_votes.id]

        assert [e.poem.id for e in await repo.top_poems(session, guild_id=GUILD, min_votes=3)] == [
            many_good_votes.id,
            middling.id,
        ]
        later = datetime.now(UTC) + timedelta(hours=1)
        assert await repo.top_poems(session, since=later) == []
        assert len(await repo.top_poems(session, until=later)) == 4
        with pytest.raises(InvalidInput, match="since: expected a datetime with a time zone"):
            await repo.top_poems(session, since=datetime(2026, 1, 1))


async def test_a_users_poems_are_those_they_asked_for_or_wrote_in(db):
    asked = await save(db, bot_poem(requester=LIBAI))
    wrote_in = await save(db, bot_poem(origin="game", requester=None, line_authors=[DUFU, LIBAI, None, None]))
    await save(db, bot_poem(requester=DUFU))

    async with db.unit_of_work() as session:
        mine = await repo.user_poems(session, LIBAI.id)
        assert [poem.id for poem in mine] == [wrote_in.id, asked.id]
        assert [poem.id for poem in await repo.user_poems(session, LIBAI.id, before_id=wrote_in.id)] == [asked.id]
        assert [poem.id for poem in await repo.user_poems(session, LIBAI.id, limit=1)] == [wrote_in.id]


async def test_rated_poems_come_with_every_raters_stars(db):
    loved = await save(db, bot_poem())
    disliked = await save(db, bot_poem())
    one_vote = await save(db, bot_poem())
    await rate_many(db, loved.id, [5, 5, 4])
    await rate_many(db, disliked.id, [1, 2, 1])
    await rate_many(db, one_vote.id, [5])

    async with db.unit_of_work() as session:
        rated = await repo.rated_poems_with_ratings(session, min_votes=3)
        assert [(poem.id, sorted(stars.values())) for poem, stars in rated] == [  # the latest rated first
            (disliked.id, [1, 1, 2]),
            (loved.id, [4, 5, 5]),
        ]
        assert len({user for _, stars in rated for user in stars}) == 3
        assert [poem.id for poem, _ in await repo.rated_poems_with_ratings(session, min_votes=3, limit=1)] == [
            disliked.id
        ]
        in_the_future = datetime.now(UTC) + timedelta(minutes=5)
        assert await repo.rated_poems_with_ratings(session, min_votes=1, since=in_the_future) == []
        assert await repo.last_finetune_run(session) is None

    # New to the next run is a poem whose stars came since the last one, however old the poem
    last_run = datetime.now(UTC)
    await rate_many(db, one_vote.id, [5, 4, 5])
    async with db.unit_of_work() as session:
        news = await repo.rated_poems_with_ratings(session, min_votes=3, since=last_run)
        assert [(poem.id, len(stars)) for poem, stars in news] == [(one_vote.id, 3)]
