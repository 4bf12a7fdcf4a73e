"""A server's settings through the services: the bot's defaults where it chose nothing, clear refusals
in the reader's language, and the language of a channel's posts."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from bot.config import Settings
from bot.services import Services, UserError, daily_run_date
from storage.models import GameKind

GUILD, CHANNEL = 5_000_000_001, 5_000_000_002


@pytest.fixture
async def services(tmp_path):
    started = await Services.start(Settings(data_dir=tmp_path, feihua_turn_seconds=7))
    yield started
    await started.close()


async def test_a_server_without_settings_gets_the_bots_defaults(services):
    for guild_id in (None, GUILD):
        chosen = await services.guild_settings(guild_id)
        assert chosen.turn_seconds == {GameKind.CHAIN: 120, GameKind.FEIHUA: 7, GameKind.DUILIAN: 120}
        assert (chosen.default_form, chosen.post_locale, chosen.poem_card) == ("auto", None, True)


async def test_what_a_server_sets_is_kept_and_shown(services):
    await services.set_turn_seconds(GUILD, GameKind.CHAIN, 30)
    await services.set_turn_seconds(GUILD, GameKind.DUILIAN, 3600)
    await services.set_default_form(GUILD, "wulv")
    await services.set_post_locale(GUILD, "zh-TW")
    chosen = await services.set_poem_card(GUILD, False)
    assert chosen == await services.guild_settings(GUILD)
    assert chosen.turn_seconds == {GameKind.CHAIN: 30, GameKind.FEIHUA: 7, GameKind.DUILIAN: 3600}
    assert (chosen.default_form, chosen.post_locale, chosen.poem_card) == ("wulv", "zh-TW", False)
    shown = chosen.describe("zh-TW")
    assert (
        "聯句 30 秒、飛花令 7 秒、對對聯 3600 秒" in shown
        and "五律" in shown
        and "繁體中文" in shown
        and "詩卡：關" in shown
    )
    assert "poem card: off" in chosen.describe("en-US")
    assert (await services.set_post_locale(GUILD, None)).post_locale is None


@pytest.mark.parametrize("seconds", [4, 3601, 10**30, True])
async def test_a_turn_length_out_of_bounds_is_refused(services, seconds):
    with pytest.raises(UserError) as refused:
        await services.set_turn_seconds(GUILD, GameKind.CHAIN, seconds)
    assert refused.value.message("zh-CN") == "每轮秒数须在 5 到 3600 之间。"
    assert refused.value.message("en") == "Seconds per turn must be from 5 to 3600."
    assert (await services.guild_settings(GUILD)).turn_seconds[GameKind.CHAIN] == 120


async def test_unknown_choices_and_no_server_are_refused(services):
    with pytest.raises(UserError, match="settings.bad_form"):
        await services.set_default_form(GUILD, "sonnet")
    assert (await services.set_default_form(GUILD, "七律")).default_form == "qilv"
    assert (await services.set_default_form(GUILD, "自动")).default_form == "auto"
    with pytest.raises(UserError) as refused:
        await services.set_post_locale(GUILD, "fr")
    assert "zh-CN, zh-TW, en" in refused.value.message("en")
    with pytest.raises(UserError) as refused:
        await services.set_poem_card(None, True)
    assert refused.value.message("zh-CN") == "这条命令只能在服务器里用。"


async def test_a_channel_speaks_as_its_last_player_unless_the_server_chose(services):
    assert await services.channel_locale(CHANNEL) == "zh-CN"
    await services.remember_channel_locale(CHANNEL, GUILD, "en")
    assert await services.channel_locale(CHANNEL) == "en"
    await services.set_post_locale(GUILD, "zh-TW")
    assert await services.channel_locale(CHANNEL) == "zh-TW"


@pytest.mark.parametrize(
    ("now", "at", "day"),
    [
        (datetime(2026, 11, 29, 8, 0), time(8, 0), date(2026, 11, 29)),  # on time
        (datetime(2026, 11, 30, 0, 20), time(23, 50), date(2026, 11, 29)),  # caught up after midnight
        (datetime(2026, 3, 8, 3, 30), time(2, 30), date(2026, 3, 8)),  # 02:30 skipped by the clocks going forward
    ],
)
def test_a_daily_run_belongs_to_the_day_it_was_due(now, at, day):
    assert daily_run_date(now, at) == day
