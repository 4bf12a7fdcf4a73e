"""The console through its API: input it cannot use gets an answer, never a traceback, and the
console's seats outlive a restart."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from bot import i18n
from bot.config import Settings
from bot.console import CONSOLE_USER_ID, Console
from bot.services import Person, Services


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest_asyncio.fixture
async def open_console(settings) -> AsyncIterator[Callable]:
    """Start the console's services (again, as after a restart); all are closed at the end."""
    started: list[Services] = []

    async def start(locale: str = "zh-CN") -> Console:
        services = await Services.start(settings)
        started.append(services)
        return Console(services, Person(CONSOLE_USER_ID, "李白", locale), out=io.StringIO())

    yield start
    for services in started:
        await services.close()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/rate 99999999999999999999999 5", "输入不合要求"),
        ("/rate 1 99999999999999999999999", "输入不合要求"),
        ("/chain start 七绝 turn=99999999999999999999", "turn 须在 5 到 86400 之间。"),
        ("/feihua start 月 turn=-3", "turn 须在 5 到 86400 之间。"),
        ("/chain start open7 lines=99999999999999999999", "开放联句的句数须为 4 到 32 之间的偶数。"),
        ("/chain start open7 lines=3", "开放联句的句数须为 4 到 32 之间的偶数。"),
        ("/chain start open5 lines=34", "开放联句的句数须为 4 到 32 之间的偶数。"),
        ("/poem \udcb0\udcd7", "这一行不是 UTF-8 文本"),  # GBK's 白 as a POSIX locale's stdin decodes it
    ],
)
async def test_huge_numbers_get_an_answer(open_console, typed, expected):
    console = await open_console()
    assert expected in await console.handle(typed)


async def test_a_star_count_out_of_range_is_refused_in_the_readers_language(open_console):
    console = await open_console()
    await console.handle("/poem 月 form=五绝")
    assert await console.handle("/rate 1 9") == "星数须在 1 到 5 之间。"
    english = await open_console("en")
    assert await english.handle("/rate 1 0") == "Stars must be from 1 to 5."


async def test_control_characters_in_a_seat_name_end_nothing(open_console):
    console = await open_console()
    assert "轮到李白" in await console.handle("/chain start 七绝 bot=no")
    joined = await console.handle("/chain join \x01")
    assert "加入了游戏" in joined and "\x01" not in joined
    assert "王维加入了游戏" in await console.handle("/chain join 王\x01维")


async def test_console_seats_outlive_a_restart(open_console):
    first = await open_console()
    assert "轮到李白" in await first.handle("/chain start 七绝 opening=月落乌啼霜满天 bot=no")
    assert "杜甫加入了游戏" in await first.handle("/chain join 杜甫")
    assert "轮到杜甫" in await first.handle("/chain line 江枫渔火对愁眠")

    restarted = await open_console()
    assert "轮到杜甫" in await restarted.handle("/chain status")
    assert "你已经在游戏里了" in await restarted.handle("/chain join 杜甫")
    assert "王维加入了游戏" in await restarted.handle("/chain join 王维")
    assert "轮到王维" in await restarted.handle("/chain line 姑苏城外寒山寺")


async def test_a_poem_is_labelled_in_the_readers_language(open_console):
    english = await open_console("en")
    written = await english.handle("/poem 月 form=五绝")
    assert i18n.text("poem.footer", "en", model="v0", poem_id=1) in written
    assert i18n.text("poem.unrated", "en") in written and i18n.text("poem.unrated", "zh-CN") not in written
    rated = await english.handle("/rate 1 5")
    assert i18n.text("poem.rated", "en", count=1, mean="5.0") in rated


async def test_top_names_the_periods_it_knows(open_console):
    console = await open_console()
    for typed in ("/top yesterday", "/top week month"):
        assert "week|month|all" in await console.handle(typed)
    assert await console.handle("/top week") == i18n.text(
        "top.empty", "zh-CN", period=i18n.text("period.week", "zh-CN")
    )


@pytest.mark.parametrize("locale", ["zh-CN", "zh-TW", "en"])
async def test_mypoems_suggests_the_consoles_own_command(open_console, locale):
    console = await open_console(locale)
    await console.handle("/poem 月 form=五绝")
    await console.handle("/forgetme yes")
    empty = await console.handle("/mypoems")
    assert "/poem" in empty and "/作诗" not in empty and "/作詩" not in empty


@pytest.mark.parametrize("theme", ["moon", "🌙", "月" * 20, ""])
async def test_a_chain_theme_is_refused_as_poem_refuses_it(open_console, theme):
    console = await open_console()
    refused = await console.handle(f"/poem '{theme}'")
    assert await console.handle(f"/chain start 七绝 'theme={theme}'") == refused
    assert "轮到李白" in await console.handle("/chain start 七绝 bot=no")  # the refused one never started
