"""20 simultaneous /poem through the fake Discord: how fast each is acknowledged and answered.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bot.py [--users 20] [--no-card]

The real bot (bot.discord.app.create_bot) runs as a task against tests/e2e/fake_discord.py on
127.0.0.1, with the model at LIANJU_MODEL_DIR (default engine/weights/default), SQLite in a
temporary folder. Prints p50/p99 of the acknowledgement (Discord allows 3 s) and of the
final answer (the poem edited in), and any Discord rule the bot broke.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

import discord
from discord.gateway import DiscordWebSocket
from discord.http import Route

ROOT = Path(__file__).resolve().parent.parent
# This file is bench/bot.py: its own folder must not shadow the `bot` package.
sys.path[0:1] = [str(ROOT), str(ROOT / "tests" / "e2e")]

from fake_discord import GUILD_ID, TOKEN, FakeDiscord  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.discord.app import create_bot  # noqa: E402

THEMES = "春夏秋冬月风花雪山水江河云雨烟霜柳梅竹松"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def main(users: int, card: bool) -> None:
    fake = FakeDiscord()
    await fake.start()
    Route.BASE = fake.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = discord.gateway.yarl.URL(fake.gateway_url)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), discord_token=TOKEN)
        bot = create_bot(settings)
        serving = asyncio.create_task(bot.start(TOKEN))
        await asyncio.wait_for(bot.wait_until_ready(), 60)
        await bot.services.set_poem_card(GUILD_ID, card)
        records = await asyncio.gather(
            *(
                fake.command("poem", {"theme": THEMES[n % len(THEMES)]}, user_id=1_300_000_000_000_000_000 + n)
                for n in range(users)
            )
        )
        await asyncio.gather(*(record.answered(timeout=300) for record in records))
        await bot.close()
        await asyncio.gather(serving, return_exceptions=True)
    await fake.stop()
    acks = [record.ack_latency for record in records]
    answers = [record.answer_latency for record in records]
    embeds = sum(bool(record.original["embeds"]) for record in records)
    print(f"model: {settings.model_dir.resolve()} ({bot.services.model.name})")
    print(
        f"{users} simultaneous /poem (poem card {'on' if card else 'off'}): {embeds} poems, "
        f"{sum(a < 3 for a in acks)} acknowledged within 3 s, "
        f"violations: {fake.violations or 'none'}"
    )
    for name, values in (("acknowledgement", acks), ("final answer", answers)):
        print(
            f"{name:16s} p50 {statistics.median(values):6.3f} s   p99 {percentile(values, 0.99):6.3f} s   "
            f"max {max(values):6.3f} s"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--no-card", action="store_true", help="the server's poem card switched off")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.users, card=not arguments.no_card))
