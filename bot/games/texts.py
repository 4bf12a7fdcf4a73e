"""What a game says, in the reader's language (zh-CN, zh-TW or English): an outcome, a finished
联句 with its authors, a reminder, and where a channel's game stands. Each game writes its own
status lines (`TurnGame.status_lines`); this module adds whose turn it is and the time left."""

from __future__ import annotations

from datetime import datetime

from bot import i18n
from bot.games.common import BOT, BOT_NAME_EN, BOT_NAME_ZH, FORGOTTEN_EN, FORGOTTEN_ZH, Names, Outcome, TurnGame
from bot.games.service import NO_GAME
from engine.prosody import Reason


def words(reason: Reason, locale: object) -> str:
    return i18n.bilingual(locale, reason.zh, reason.en)


def bot_name(locale: object) -> str:
    return i18n.bilingual(locale, BOT_NAME_ZH, BOT_NAME_EN)


def mention(who: int | None, locale: object) -> str:
    """A person as Discord shows them, the bot by its name, and someone forgotten as such."""
    if who == BOT:
        return bot_name(locale)
    return f"<@{who}>" if who is not None else i18n.bilingual(locale, FORGOTTEN_ZH, FORGOTTEN_EN)


def describe(outcome: Outcome, locale: object, name: Names, show_line: bool = True) -> str:
    """What a player reads after a move: the line and who wrote it, then the reasons and notes."""
    said = [words(reason, locale) for reason in [*outcome.reasons, *outcome.notes]]
    if show_line and outcome.accepted and outcome.line and outcome.by is not None:
        said.insert(0, f"{name(outcome.by)}：{i18n.verse(locale, outcome.line)}")
    return "\n".join(said)


def poem_credits(outcome: Outcome, locale: object, name: Names) -> str:
    """The finished 联句, every line with its author."""
    return "\n".join(f"{i18n.verse(locale, line)}　—— {name(author)}" for line, author in outcome.poem or [])


def reminder(turn: int | None, seconds_left: int, locale: object, name: Names) -> str:
    left = i18n.bilingual(locale, f"还剩 {seconds_left} 秒。", f"{seconds_left} s left.")
    return f"⏳ {name(turn)}：{left}" if turn is not None else f"⏳ {left}"


def status_text(game: TurnGame | None, locale: object, name: Names, now: datetime) -> str:
    """Where a channel's game stands: the game's own lines, then whose turn it is and until when."""
    if game is None:
        return words(NO_GAME, locale)

    def say(zh: str, en: str) -> str:
        return i18n.bilingual(locale, zh, en)

    said = game.status_lines(say, name)
    rotation = game.rotation
    if rotation.deadline is not None:
        left = max(0, round((rotation.deadline - now).total_seconds()))
        turn = say(f"轮到{name(rotation.current)}，", f"{name(rotation.current)}'s turn, ") if game.takes_turns else ""
        said.append(turn + say(f"还剩 {left} 秒。", f"{left} s left."))
    elif rotation.current is not None:
        said.append(say(f"轮到{name(rotation.current)}。", f"It is {name(rotation.current)}'s turn."))
    return "\n".join(said)
