"""The service around the games: a moderator who is not seated can stop a channel's game; a refused
opening creates no game and says nothing of one."""

from __future__ import annotations

from game_helpers import CHANNEL, DU_FU, GUILD, LI_BAI, NOW, WANG_WEI

from bot.games.chain import ChainGame
from bot.games.common import GameResources
from bot.games.feihua import FeihuaGame, FeihuaStart
from bot.games.service import GameService
from storage import repo
from storage.models import GameStatus


async def test_a_moderator_who_does_not_play_stops_the_game(db, line_index):
    service = GameService(db, GameResources(None, line_index))
    started = await service.start(CHANNEL, GUILD, LI_BAI, FeihuaStart("月", bot_plays=False), NOW)
    await service.join(CHANNEL, FeihuaGame.kind, DU_FU)
    refused = await service.stop(CHANNEL, FeihuaGame.kind, WANG_WEI)
    assert [reason.code for reason in refused.reasons] == ["not_starter"]

    stopped = await service.stop(CHANNEL, FeihuaGame.kind, WANG_WEI, moderator=True)
    assert stopped.accepted and stopped.finished and stopped.abandoned
    assert await service.status(CHANNEL) is None
    async with db.unit_of_work() as session:
        row = await repo.get_game(session, started.game_id)
    assert row.status == GameStatus.ABANDONED and {seat.user_id for seat in row.players} == {LI_BAI.id, DU_FU.id}


async def test_a_refused_opening_line_speaks_of_no_game(db):
    service = GameService(db, GameResources(None))
    request = ChainGame.console_request(["七绝"], {"opening": "床前明月光", "bot": "no"})
    refused = await service.start(CHANNEL, GUILD, LI_BAI, request, NOW)
    assert not refused.accepted and refused.reasons
    assert "还可再试" not in refused.text() and "轮到" not in refused.text()
    assert await service.status(CHANNEL) is None
