"""The plan of a poem: one keyword per line, in one season and one time of day, moving from the
scene to the feeling — the planning step of Wang et al. 2016 and of Jiuge.

    planner = Planner(Lexicon.load(SHIPPED_LEXICON))
    planner.plan("西湖", line_count=4, rng=random.Random(1))
    → Plan(keywords=("湖光", "画舫", "荷叶", "归思"), season="夏", time=None, …)

The keywords come from the theme's topic words (engine.lexicon): what poems titled with the
theme use more than poems in general. A plan holds one season and one time of day: words that
mark another one are dropped, and the poet keeps the other seasons' names out of the poem (a
quatrain that says 秋雨 and then 春 is what readers noticed first). Scene words come first, the
most telling ones in the opening lines and the lesser details after them; the last line gets a
word of feeling when the theme has one. The user's own keywords take the first slots.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from engine.lexicon import FUNCTION_CHARS, Lexicon

# The characters that mark a season or a time of day. A word marked with two classes
# (春宵, 秋夜) belongs to both and fits a plan holding either.
SEASONS = {"春": "春桃杏莺", "夏": "夏荷蝉暑莲", "秋": "秋菊雁霜枫蛩", "冬": "冬雪腊"}
TIMES = {"晨": "晓晨曙", "暮": "暮夕昏晚", "夜": "夜宵"}
# The times a poem on a theme naming one time must not show: dawn in a night's or an evening's poem, dusk
# or night in a dawn's. Evening then night is a poem's ordinary course, so neither clashes with the other.
CLASHING_TIMES = {"晨": "暮夜", "暮": "晨", "夜": "晨"}
# Words whose mark names no season or time: 秋千 is the swing of 寒食 and 清明 (counted as autumn, it
# set one 寒食 poem in five in autumn, with 春 kept out), 千秋 and 春秋 are ages, 秋毫 a hair's tip, 麦秋 early summer,
# 富春 宜春 江夏 秋浦 夏口 are places, 华夏 夷夏 夏禹 夏后 the country and its first kings, 早晚 is
# "sooner or later", 岁晚 the year's end.
UNMARKED_WORDS = frozenset("秋千 千秋 春秋 秋毫 麦秋 富春 宜春 江夏 秋浦 夏口 华夏 夷夏 夏禹 夏后 早晚 岁晚".split())
# Words holding one of these say what the poet feels, not what is seen.
FEELING_CHARS = frozenset("愁思情泪梦归忆恨怀伤悲念别泣叹怨惆怅寂寞乡")
CANDIDATES = 32  # topic words a plan draws from
TOPIC_WORDS = 16  # the theme's words a plan of the setting only leans on
# The rarest words a plan may hold: log(poems / poems using it), 7.5 ≈ 180 of the 320k train poems.
# Rarer topic words were mostly fragments the model writes badly (忍负, 变作, 屐登, 居好 from 山居好).
MAX_PLAN_IDF = 7.5


def classes_of(word: str, classes: dict[str, str]) -> set[str]:
    if word in UNMARKED_WORDS:
        return set()
    return {name for name, marks in classes.items() if any(c in marks for c in word)}


@dataclass(frozen=True)
class Plan:
    keywords: tuple[str, ...]  # one per line, in line order; none in a plan of the setting only
    season: str | None
    time: str | None
    source: str  # the topic list it came from: the theme, its parts, or a season's
    topic: tuple[str, ...] = ()  # a plan of the setting only: the theme's words, favoured lightly anywhere

    def to_dict(self) -> dict:
        return {**asdict(self), "keywords": list(self.keywords)}

    @property
    def avoided_seasons(self) -> str:
        """The names of the other seasons, which the poem should not say (unless a plan word holds
        one: 秋千 in a spring plan)."""
        planned = "".join(self.keywords)
        return "".join(name for name in SEASONS if self.season and name != self.season and name not in planned)

    def off_season(self, lines: list[str], theme: str) -> str:
        """The characters of the poem that mark another season than the plan's (霜 and 雪 in a spring
        poem, 桃 in a winter one), each once; none of the theme's, none inside a plan word written whole, and
        none inside a word that marks no season (秋千)."""
        if not self.season:
            return ""
        return self._marks_in(lines, theme, "".join(name for name in SEASONS if name != self.season), SEASONS)

    def off_time(self, lines: list[str], theme: str) -> str:
        """The characters of the poem that mark a time clashing with the one its theme names (晓 in a
        poem on 秋夜), each once; as off_season, none of the theme's or inside a plan word. A theme naming no
        time, or two, is not charged: the poem may move through the day."""
        named = classes_of(theme, TIMES)
        if len(named) != 1:
            return ""
        return self._marks_in(lines, theme, CLASHING_TIMES[named.pop()], TIMES)

    def _marks_in(self, lines: list[str], theme: str, names: str, classes: dict[str, str]) -> str:
        # The theme's characters are the poem's subject wherever they stand; a plan word only where it is
        # written whole: 秋千 in a 清明 plan does not let 中秋 in.
        marks = {c for name in names for c in classes[name]} - set(theme)
        found = ""
        for line in lines:
            for word in (*UNMARKED_WORDS, *self.keywords):
                line = line.replace(word, "")
            found += "".join(c for c in line if c in marks and c not in found)
        return found


class Planner:
    def __init__(self, lexicon: Lexicon, known: set[str] | None = None):
        self.lexicon = lexicon
        self.known = known  # characters the model can write; None: all

    def _usable(self, word: str, theme: str) -> bool:
        return (
            word not in theme
            and not any(c in FUNCTION_CHARS for c in word)
            and (self.known is None or all(c in self.known for c in word))
            and self.lexicon.idf.get(word, 0.0) <= MAX_PLAN_IDF
        )

    @staticmethod
    def _fits(word: str, classes: dict[str, str], chosen: str | None) -> bool:
        marked = classes_of(word, classes)
        return not marked or chosen in marked

    def _choose_class(
        self, theme: str, words: list[tuple[str, float]], classes: dict[str, str], rng: random.Random
    ) -> str | None:
        """The theme's own class when it names one (中秋 → 秋), else one drawn by how much of the
        theme's vocabulary each class holds; None when the vocabulary holds none."""
        named = classes_of(theme, classes)
        if len(named) == 1:
            return named.pop()
        weights = {name: 0.0 for name in classes}
        for word, score in words:
            for name in classes_of(word, classes):
                weights[name] += score
        if not any(weights.values()):
            # nothing in the vocabulary says when: any one, so that the poem still keeps to one
            return rng.choice(list(classes)) if classes is SEASONS else None
        return rng.choices(list(weights), weights=list(weights.values()))[0]

    def _setting(
        self, theme: str, line_count: int, rng: random.Random
    ) -> tuple[list[tuple[str, float]], str, str | None, str | None]:
        """The theme's words (or a season's, when the corpus has too few), their source, the season and the time."""
        words = self.lexicon.topic_words(theme)
        source = theme if self.lexicon.has_own_topic(theme) else "、".join(self.lexicon.topic_parts(theme)) or theme
        if len(words) < line_count:
            # a theme the corpus never titles a poem with: plan in a season, keep the theme in the prompt
            source = rng.choice(list(SEASONS))
            words = words + self.lexicon.topic_words(source)
        return (
            words,
            source,
            self._choose_class(theme, words, SEASONS, rng),
            self._choose_class(theme, words, TIMES, rng),
        )

    def _fitting(
        self, pool: list[tuple[str, float]], theme: str, season: str | None, time: str | None
    ) -> list[tuple[str, float]]:
        """The words of the pool a plan in this season and time may hold."""
        return [
            (word, score)
            for word, score in pool
            if self._usable(word, theme) and self._fits(word, SEASONS, season) and self._fits(word, TIMES, time)
        ]

    def setting_only(self, theme: str, line_count: int, rng: random.Random) -> Plan:
        """A plan with no keywords: the season and time of day the poem keeps to, and the theme's
        words that fit them, for the poem to lean on wherever it likes."""
        words, source, season, time = self._setting(theme, line_count, rng)
        topic = [w for w, _ in self._fitting(words, theme, season, time) if len(w) == 2][:TOPIC_WORDS]
        return Plan((), season, time, source, tuple(topic))

    def plan(self, theme: str, line_count: int, rng: random.Random, user_keywords: tuple[str, ...] = ()) -> Plan:
        words, source, season, time = self._setting(theme, line_count, rng)
        fitting = self._fitting(words, theme, season, time)
        if season and sum(len(w) == 2 for w, _ in fitting) < line_count:
            # a theme with few words of its own (羁旅) borrows the season's, at half weight, before
            # falling back on single characters
            known = {w for w, _ in fitting}
            fitting += [
                (w, s / 2)
                for w, s in self._fitting(self.lexicon.topic_words(season), theme, season, time)
                if w not in known
            ]
        # two-character words carry an image (画舫, 湖光); single characters (卜, 常) mostly do not,
        # and only fill a plan the theme's words cannot
        words_only = [(w, s) for w, s in fitting if len(w) == 2]
        if len(words_only) >= line_count:
            fitting = words_only[:CANDIDATES]
        else:
            fitting = [(w, s * (4.0 if len(w) == 2 else 1.0)) for w, s in fitting[:CANDIDATES]]
        feelings = [(w, s) for w, s in fitting if any(c in FEELING_CHARS for c in w)]
        scenes = [(w, s) for w, s in fitting if not any(c in FEELING_CHARS for c in w)]

        keywords: list[str] = [k for k in user_keywords if k][:line_count]
        used = set("".join(keywords))

        def draw(pool: list[tuple[str, float]]) -> str | None:
            open_words = [(w, s) for w, s in pool if not used & set(w)]
            if not open_words:
                return None
            word = rng.choices([w for w, _ in open_words], weights=[s for _, s in open_words])[0]
            used.update(word)
            return word

        feeling_lines = 1 if line_count <= 4 else 2
        scene_words: list[str] = []
        while len(keywords) + len(scene_words) < line_count - feeling_lines and (word := draw(scenes)):
            scene_words.append(word)
        # the most telling scene first, the details after it
        rank = {w: s for w, s in scenes}
        keywords += sorted(scene_words, key=lambda w: -rank[w])
        while len(keywords) < line_count and (word := draw(feelings) or draw(scenes) or draw(fitting)):
            keywords.append(word)
        while len(keywords) < line_count:  # a vocabulary too small to fill the plan: repeat the theme
            keywords.append(theme[len(keywords) % len(theme)])
        return Plan(tuple(keywords), season, time, source)
