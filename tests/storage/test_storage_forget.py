""" "Forget me": what is only theirs goes, what they made with others stays without their name."""

from sqlalchemy import func, select

from storage import repo
from storage.models import GamePlayer, GameTurn, Poem, PoemAuthor, PoemOrigin, Rating, User
from storage.repo import DiscordUser, ForgetReport, NewGame, NewPoem

LEAVER, STAYER = DiscordUser(31, "陶渊明"), DiscordUser(32, "谢灵运")


async def test_forget_deletes_their_own_and_anonymises_the_shared(db):
    async with db.unit_of_work() as session:
        submitted = await repo.save_poem(
            session, NewPoem(lines=["采菊东篱下", "悠然见南山"], form="other", origin=PoemOrigin.USER, requester=LEAVER)
        )
        asked_for = await repo.save_poem(
            session, NewPoem(lines=["归去来兮"], form="other", origin="bot", requester=LEAVER)
        )
        together = await repo.save_poem(
            session,
            NewPoem(lines=["池塘生春草", "园柳变鸣禽"], form="other", origin="game", line_authors=[STAYER, LEAVER]),
        )
        others = await repo.save_poem(
            session, NewPoem(lines=["野旷天低树"], form="other", origin="bot", requester=STAYER)
        )
        await repo.rate(session, submitted.id, STAYER, 5)
        await repo.rate(session, others.id, LEAVER, 2)
        await repo.rate(session, others.id, STAYER, 4)
        await repo.rate(session, together.id, LEAVER, 5)
        game = await repo.start_game(
            session, NewGame(kind="chain", channel_id=9, players=[LEAVER, STAYER], started_by=LEAVER)
        )
        await repo.record_turn(session, game.id, "少无适俗韵", player=LEAVER, accepted=True)
        await repo.record_turn(session, game.id, "性本爱丘山", player=STAYER, accepted=True)

    async with db.unit_of_work() as session:
        report = await repo.forget_user(session, LEAVER.id)
    assert report == ForgetReport(
        ratings_deleted=2, poems_deleted=1, poems_unlinked=1, lines_anonymised=1, turns_anonymised=1, games_left=1
    )

    async with db.unit_of_work() as session:
        assert await session.get(User, LEAVER.id) is None
        assert await session.get(Poem, submitted.id) is None
        assert await session.scalar(select(func.count()).select_from(Rating).where(Rating.poem_id == submitted.id)) == 0
        assert (await repo.get_poem(session, asked_for.id)).requester_id is None
        kept = await repo.get_poem(session, together.id)
        assert kept.lines == ["池塘生春草", "园柳变鸣禽"]
        assert [(a.user_id, a.by_bot) for a in kept.authors] == [(STAYER.id, False), (None, False)]
        summary = await repo.rating_summary(session, others.id)
        assert (summary.count, summary.mean) == (1, 4.0)  # only the stayer's rating is left
        game = await repo.get_game(session, game.id)
        assert [player.user_id for player in game.players] == [STAYER.id] and game.started_by_id is None
        assert [(turn.player_id, turn.by_bot, turn.line) for turn in game.turns] == [
            (None, False, "少无适俗韵"),
            (STAYER.id, False, "性本爱丘山"),
        ]
        for model, column in (
            (Rating, Rating.user_id),
            (GamePlayer, GamePlayer.user_id),
            (GameTurn, GameTurn.player_id),
            (PoemAuthor, PoemAuthor.user_id),
        ):
            assert await session.scalar(select(func.count()).select_from(model).where(column == LEAVER.id)) == 0
        assert (await session.get(User, STAYER.id)).display_name == "谢灵运"


async def test_forgetting_someone_unknown_changes_nothing(db):
    async with db.unit_of_work() as session:
        assert await repo.forget_user(session, 404) == ForgetReport()
