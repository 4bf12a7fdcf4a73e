"""`lianju console`: the bot's commands in a terminal, through the same services, without Discord.

    /poem 月                      /poem 春江 form=七绝 acrostic=春江花月
    /rate 3 5                     /top [week|month|all]     /mypoems
    /model [info|rollback]        /help                     /quit
    /chain start 七绝 [严] [opening=白日依山尽] [theme=月] [bot=no] [turn=120]   /chain start open7 lines=12
    /chain join 杜甫   /chain line 黄河入海流   /chain pass   /chain status   /chain stop
    /feihua start 月 [strength=weak|medium|strong] [bot=no]   /feihua join 杜甫   /feihua line …   /feihua stop
    /duilian          /duilian answer 下联      /duilian end     /duilian 上联（机器人对下联）

Lines come from stdin, so `echo "/poem 月" | lianju console` works too.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot import i18n
from bot.playing import ConsoleGames
from bot.services import PERIODS, Person, PoemCard, PoemRequest, Services, UserError

CONSOLE_USER_ID = 1  # the console's one person; a valid Discord id that no real account has
HELP = __doc__.split("\n\n")[1]


def render(card: PoemCard) -> str:
    rating = (i18n.text("poem.rated", card.locale, count=card.rating_count, mean=f"{card.rating_mean:.1f}")
              if card.rating_count else i18n.text("poem.unrated", card.locale))
    return "\n".join([
        f"《{card.title}》  {card.form_label} · {card.rhyme_group or '—'}",
        *(f"  {line}" for line in card.body.split("\n")),
        f"  {i18n.text('poem.footer', card.locale, model=card.model_name, poem_id=card.poem_id)}"
        f" · {rating}",
    ])


class Console:
    def __init__(self, services: Services, person: Person, out: TextIO = sys.stdout) -> None:
        self.services, self.person, self.out = services, person, out
        games = ConsoleGames(services, person)
        self.commands: dict[str, Callable[[list[str], dict[str, str]], Awaitable[str]]] = {
            "/poem": self.poem, "/rate": self.rate, "/top": self.top, "/mypoems": self.mypoems, "/model": self.model,
            **games.commands,
        }

    async def handle(self, line: str) -> str | None:
        """One typed line → the reply; None for a line that is not a command."""
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if not words:
            return None
        name, rest = words[0], words[1:]
        if name in ("/help", "help"):
            return HELP
        if name not in self.commands:
            return f"? {name}\n{HELP}"
        positional = [word for word in rest if "=" not in word]
        options = dict(word.split("=", 1) for word in rest if "=" in word)
        try:
            return await self.commands[name](positional, options)
        except UserError as error:
            return error.message(self.person.locale)

    async def poem(self, words: list[str], options: dict[str, str]) -> str:
        request = PoemRequest(
            theme=" ".join(words), form=options.get("form", "auto"), acrostic=options.get("acrostic"),
            temperature=_number(options["temperature"], float) if "temperature" in options else None,
        )
        return render(await self.services.write_poem(request, self.person))

    async def rate(self, words: list[str], options: dict[str, str]) -> str:
        if len(words) != 2:
            return "/rate POEM_ID STARS"
        poem_id, stars = _number(words[0], int), _number(words[1], int)
        card = await self.services.rate(poem_id, self.person, stars)
        return i18n.text("rating.thanks", self.person.locale, poem_id=poem_id, stars=stars) + "\n" + render(card)

    async def top(self, words: list[str], options: dict[str, str]) -> str:
        period = words[0] if words and words[0] in PERIODS else "all"
        period_name = i18n.text(f"period.{period}", self.person.locale)
        rated = await self.services.top(None, period)
        if not rated:
            return i18n.text("top.empty", self.person.locale, period=period_name)
        return "\n".join([i18n.text("top.title", self.person.locale, period=period_name), *(
            i18n.text("top.entry", self.person.locale, rank=rank, title=entry.poem.theme or "—",
                      mean=f"{entry.rating.mean:.1f}", count=entry.rating.count)
            for rank, entry in enumerate(rated, 1))])

    async def mypoems(self, words: list[str], options: dict[str, str]) -> str:
        poems = await self.services.my_poems(self.person)
        if not poems:
            return i18n.text("mypoems.empty", self.person.locale)
        return "\n".join(i18n.text("mypoems.entry", self.person.locale, poem_id=poem.id, title=poem.theme or "—",
                                   first_line=poem.lines[0]) for poem in poems)

    async def model(self, words: list[str], options: dict[str, str]) -> str:
        # The console's person runs the bot on their own machine: they may roll back like a server manager.
        if words == ["rollback"]:
            report = await self.services.roll_back_model()
            return i18n.text("model.rolled_back", self.person.locale) + "\n" + report.describe(self.person.locale)
        if words not in ([], ["info"]):
            return "/model [info|rollback]"
        return (await self.services.follow_registry()).describe(self.person.locale)

    async def run(self, lines: TextIO, prompt: bool) -> None:
        while True:
            if prompt:
                self.out.write("联句> ")
                self.out.flush()
            line = lines.readline()
            if not line or line.strip() in ("/quit", "/exit"):
                return
            reply = await self.handle(line.strip())
            if reply:
                print(reply, file=self.out, flush=True)


def _number(text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        raise UserError("error.invalid", problem=f"{text[:20]!r}") from None


async def run_console(settings, locale: str, display_name: str, lines: TextIO = sys.stdin) -> None:
    services = await Services.start(settings)
    try:
        person = Person(CONSOLE_USER_ID, display_name[:100] or "console", i18n.normalise_locale(locale))
        await Console(services, person).run(lines, prompt=lines.isatty())
    finally:
        await services.close()
