"""A process that plays turns and is killed mid-game (test_games.py's crash test).

    python turn_writer.py DATABASE_URL GAME_ID

It commits two turns, announcing each, then records a third without committing and waits to be
killed.
"""

import asyncio
import sys

from storage import repo
from storage.db import Database

PLAYER = repo.DiscordUser(4242, "王维")


async def main(url: str, game_id: int) -> None:
    database = Database.connect(url)
    for line in ("空山新雨后", "天气晚来秋"):
        async with database.unit_of_work() as session:
            turn = await repo.record_turn(session, game_id, line, player=PLAYER, accepted=True)
        print(f"committed {turn.number}", flush=True)
    async with database.unit_of_work() as session:
        turn = await repo.record_turn(session, game_id, "明月松间照", player=PLAYER, accepted=True)
        print(f"pending {turn.number}", flush=True)
        await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
