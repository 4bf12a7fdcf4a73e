"""A separate process that plays 联句 turns on a shared database (test_chain.py's restart test).

    python chain_player.py DATABASE_URL CHANNEL MOVE...

A MOVE is `PLAYER_ID:TEXT` (a line), or `bot` (the bot's turn). Each committed outcome is
printed as one line: accepted, code of the first reason, whose turn is next.
"""

import asyncio
import sys
from datetime import UTC, datetime

from bot.config import SHIPPED_MODEL
from bot.games.chain import ChainGame
from bot.games.common import GameResources
from bot.games.service import GameService
from engine.poet import Poet
from storage.db import Database

NOW = datetime(2030, 5, 1, 12, 5, tzinfo=UTC)


async def main(url: str, channel_id: int, moves: list[str]) -> None:
    database = Database.connect(url)
    poet = Poet(SHIPPED_MODEL, "cpu-fp32")
    service = GameService(database, GameResources(poet))
    names = {player.id: player for player in (await service.status(channel_id)).players.values()}
    for move in moves:
        if move == "bot":
            outcome = await service.bot_turn(channel_id, NOW)
        else:
            player_id, text = move.split(":", 1)
            outcome = await service.submit(channel_id, ChainGame.kind, names[int(player_id)], text, NOW)
        code = outcome.reasons[0].code if outcome.reasons else "-"
        print(outcome.accepted, code, outcome.turn, flush=True)
    await poet.close()
    await database.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:]))
