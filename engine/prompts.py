"""The text format the model reads and writes. This is the one place it is defined.

  poem      <bos><poem><wujue>登楼<plan>白日、黄河、千里、层楼<sep>白日依山尽，黄河入海流。欲穷千里目，更上一层楼。<eos>
  acrostic  <bos><poem><wujue><acrostic>白黄欲更<plan>白日、黄河、千里、层楼<sep>白日依山尽，黄河入海流。…<eos>
  next line <bos><next><wujue>白日依山尽，黄河入海流。<sep>欲穷千里目<eos>
  couplet   <bos><pair>无边落木萧萧下<sep>不尽长江滚滚来<eos>
  other     <bos><poem><other>泉<sep>空山不见人，但闻人语响。返景入深林，复照青苔上。<eos>

Everything after <sep> is what the model learns to write (the prompt before it carries no
loss). Before <plan>: the theme, as 1-3 characters or 2-character words that occur in the poem or
its title, joined by 、, so `/poem 月` conditions on 月 (or nothing, or the acrostic heads). After
<plan>: the plan, one keyword per line in order (engine.lexicon.Lexicon.line_keywords: each
line's most salient word), so the model learns to write each line to its keyword given the lines
before it; at request time engine.planning makes the plan from the theme. A quarter of the
training prompts carry no plan, so the model still writes from the theme alone (and held-out NLL,
measured from `<poem><form><sep>`, stays comparable). Poem lines are separated by their punctuation,
normalised: ， closes the first line of a couplet and 。 the second.

`<other>` and `<ci>` mark extra text: the corpus's poems of no 近体 form (古体, 乐府) and its 词, in
pieces of at most eight lines with keywords from the piece. Training (`lianju train` and the one-shot
GPU run) adds them to what the model reads, for the language they hold; the bot never asks for these forms.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.text import is_han

if TYPE_CHECKING:
    from engine.lexicon import Lexicon

BOS, EOS, PAD, UNK, SEP = "<bos>", "<eos>", "<pad>", "<unk>", "<sep>"
TASK_POEM, TASK_NEXT, TASK_PAIR = "<poem>", "<next>", "<pair>"
ACROSTIC = "<acrostic>"
PLAN = "<plan>"
FIRST_FORMS = ("wujue", "qijue", "wulv", "qilv", "couplet", "ci")
FORM_TOKENS = {name: f"<{name}>" for name in (*FIRST_FORMS, "other")}
# New tokens go at the end: a model warm-started from an older vocabulary keeps every id it knows.
SPECIAL_TOKENS = [
    *(PAD, UNK, BOS, EOS, SEP, TASK_POEM, TASK_NEXT, TASK_PAIR, ACROSTIC),
    *(FORM_TOKENS[name] for name in FIRST_FORMS),
    PLAN,
    FORM_TOKENS["other"],
]
LINE_ENDS = ("，", "。")  # the line separators
KEYWORD_JOIN = "、"
PLANNED_SHARE = 0.75  # of training poems whose prompt carries a plan
EXTRA_PIECE_LINES = 8  # extra text is cut into pieces a 律诗's length, so none is cut off at MAX_LENGTH

# Characters too common to say what a poem is about; never chosen as its keywords.
_NOT_KEYWORDS = set("不之一人无有何自来中上下为是此其如犹已相与而以于在我君今未亦又可皆还更谁几时所得见知多")


def poem_body(lines: list[str]) -> str:
    return "".join(line + LINE_ENDS[i % 2] for i, line in enumerate(lines))


def poem_prompt(
    form: str, keywords: Sequence[str] = (), acrostic: str | None = None, plan: Sequence[str] | None = None
) -> str:
    theme = f"{ACROSTIC}{acrostic}" if acrostic else KEYWORD_JOIN.join(keywords)
    planned = f"{PLAN}{KEYWORD_JOIN.join(plan)}" if plan else ""
    return f"{BOS}{TASK_POEM}{FORM_TOKENS[form]}{theme}{planned}{SEP}"


def line_in_poem(form: str, theme: str, lines: Sequence[str], number: int) -> tuple[str, str]:
    """(prompt, completion) of line `number` of a poem written on `theme`: the poem's prompt and the lines
    before it, then the line and its mark — the line as generation writes it (engine.preference learns from it)."""
    return poem_prompt(form, [theme]) + poem_body(list(lines[:number])), lines[number] + LINE_ENDS[number % 2]


def next_line_prompt(form: str, previous_lines: list[str]) -> str:
    return f"{BOS}{TASK_NEXT}{FORM_TOKENS[form]}{poem_body(previous_lines)}{SEP}"


def couplet_prompt(first_line: str) -> str:
    return f"{BOS}{TASK_PAIR}{first_line}{SEP}"


def keywords_for(lines: list[str], title: str, rng: random.Random) -> list[str]:
    """1-3 keywords that occur in the poem or its title (sometimes none)."""
    roll = rng.random()
    if roll < 0.1:
        return []
    # 2-character words from the title, never across a space or punctuation in it
    words = [
        run[i : i + 2]
        for run in re.findall(r"\S+", "".join(c if is_han(c) else " " for c in title))
        for i in range(len(run) - 1)
    ]
    if roll < 0.3 and words:
        return [rng.choice(words)]
    candidates = sorted({c for line in lines for c in line if c not in _NOT_KEYWORDS})
    if not candidates:
        return []
    return rng.sample(candidates, k=min(len(candidates), rng.choice((1, 1, 2, 3))))


def training_examples(record: dict, rng: random.Random, lexicon: Lexicon) -> list[tuple[str, str]]:
    """(prompt, completion) pairs for one 近体 poem record: the poem, and sometimes a next line."""
    lines, form = record["lines"], record["form"]
    plan = lexicon.line_keywords(lines) if rng.random() < PLANNED_SHARE else None
    if rng.random() < 0.15:
        prompt = poem_prompt(form, acrostic="".join(line[0] for line in lines), plan=plan)
    else:
        prompt = poem_prompt(form, keywords_for(lines, record["title"], rng), plan=plan)
    examples = [(prompt, poem_body(lines) + EOS)]
    if rng.random() < 0.2:
        cut = rng.randrange(1, len(lines))
        examples.append((next_line_prompt(form, lines[:cut]), lines[cut] + EOS))
    return examples


def couplet_example(pair: dict) -> tuple[str, str]:
    return couplet_prompt(pair["first"]), pair["second"] + EOS


def extra_text_examples(record: dict, rng: random.Random) -> list[tuple[str, str]]:
    """(prompt, completion) pairs for one poem of another form ({form: "other" or "ci", lines}): its
    pieces of up to EXTRA_PIECE_LINES lines, each under keywords drawn from the piece itself."""
    lines = record["lines"]
    pieces = [lines[start : start + EXTRA_PIECE_LINES] for start in range(0, len(lines), EXTRA_PIECE_LINES)]
    return [(poem_prompt(record["form"], keywords_for(piece, "", rng)), poem_body(piece) + EOS) for piece in pieces]
