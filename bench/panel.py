"""Blind panels: readers judge our poems mixed with real ones, the way Jiuge and THU-PQED were judged.

The engine's own numbers (shape, rhyme, 平仄, held-out NLL, copy rate) say whether a poem scans, not
whether it is any good. Only readers can say that, and only when they do not know who wrote what: so
each of our poems is set beside one real poem of the same form on the same theme, everything that
could give a poem away (title, author, dynasty, order) is removed, and readers rate every poem on the
rubric's five criteria and guess whether a person wrote it.

    .venv/bin/python bench/panel.py make --ours OURS.jsonl --name NAME [--seed S] [--corpus DIR] [--pairs]
    .venv/bin/python bench/panel.py tally --name NAME

`make` writes bench/panels/NAME/sheet.md (for raters: the rubric, then the poems) and key.json
(who wrote what; never for raters); with --pairs also pairs.md and pairs_key.json (ours beside its
real poem: which is better?). `tally` reads the raters' ratings-*.jsonl and pair-ratings-*.jsonl
there and writes tally.md: means per source, the share taken for a human's, agreement between
raters, ours per form, and ours' win rate in pairs. The rubric is bench/panels/rubric.md.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.forms import FORM_ALIASES, JINTI_FORMS, form_for_shape  # noqa: E402
from engine.text import is_han  # noqa: E402

PANELS_DIR = Path(__file__).resolve().parent / "panels"
RUBRIC = PANELS_DIR / "rubric.md"
SHEET_SECTION = "## The sheet"
PAIRS_SECTION = "## The pairs"
CRITERIA = ("theme", "fluency", "coherence", "meaning", "poeticness")
HELD_OUT_SPLITS = frozenset({"val", "test"})
# Poets every reader of classical Chinese knows by heart; a recognised poem is no longer blind, so
# their poems are used only when a theme has nothing else.
FAMOUS_AUTHORS = frozenset({"李白", "杜甫", "王维", "白居易", "苏轼", "李商隐", "杜牧", "孟浩然", "王昌龄", "陆游"})
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])
# Wide when piped, so the tables of a tally read whole in a log.
console = Console(width=None if sys.stdout.isatty() else 160, soft_wrap=True)


class PanelError(Exception):
    """Bad input, said in a sentence that also says what to do next."""


# ---------------------------------------------------------------------------------------------
# make


@dataclass
class OursPoem:
    line_no: int  # in OURS.jsonl, so a poem can be traced back
    lines: list[str]
    form: str
    theme: str
    origin: dict[str, Any]  # model version, params, seed: whatever the file carried


@dataclass
class Entry:
    """One poem on the sheet, with what the key records about it."""

    source: str  # "ours" or "real"
    form: str
    theme: str
    lines: list[str]
    about: dict[str, Any] = field(default_factory=dict)
    sheet_id: str = ""


def han_only(line: str) -> str:
    # Our poems may come with marks (，。) or spaces; real ones never do, and a stray mark would tell.
    return "".join(char for char in line if is_han(char))


def load_ours(path: Path) -> list[OursPoem]:
    """Our poems from OURS.jsonl; every bad line is listed at once, so one fix run suffices."""
    if not path.is_file():
        raise PanelError(
            f"no file {path}: write our poems there, one JSON per line (`lianju poem THEME --json` prints that)"
        )
    poems: list[OursPoem] = []
    problems: list[str] = []
    for line_no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            poems.append(_parse_ours(json.loads(raw), line_no))
        except json.JSONDecodeError as error:
            problems.append(f"line {line_no}: not JSON ({error.msg})")
        except ValueError as error:
            problems.append(f"line {line_no}: {error}")
    if problems:
        raise PanelError(f"{path} has lines that cannot be used; fix them and run again:\n  " + "\n  ".join(problems))
    if not poems:
        raise PanelError(f"{path} holds no poems: write one JSON object per line")
    return poems


def _parse_ours(record: Any, line_no: int) -> OursPoem:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    lines = record.get("lines")
    if not isinstance(lines, list) or not lines or not all(isinstance(line, str) for line in lines):
        raise ValueError('"lines" must be a list of strings')
    lines = [han_only(line) for line in lines]
    form_name = FORM_ALIASES.get(str(record.get("form", "")))
    if form_name is None:
        raise ValueError(f'"form" must be one of {", ".join(JINTI_FORMS)}, got {record.get("form")!r}')
    shape = form_for_shape([len(line) for line in lines])
    if shape is None or shape.name != form_name:
        raise ValueError(f"the lines ({'/'.join(str(len(line)) for line in lines)} characters) are not a {form_name}")
    params = record.get("params") if isinstance(record.get("params"), dict) else {}
    theme = record.get("theme") or params.get("theme")
    if not isinstance(theme, str) or not han_only(theme):
        raise ValueError('no theme: give "theme" or "params": {"theme": …} in Chinese characters')
    origin = {key: record[key] for key in ("model_version", "params", "seed") if key in record}
    return OursPoem(line_no, lines, form_name, han_only(theme), origin)


def load_real(corpus: Path, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], list[dict]]:
    """Real poems by (form, theme): those of that form whose title contains the theme."""
    poems_file = corpus / "poems.jsonl"
    if not poems_file.is_file():
        raise PanelError(
            f"no corpus at {corpus}: build it with `lianju corpus build`, "
            "or pass --corpus DIR (the folder holding poems.jsonl)"
        )
    found: dict[tuple[str, str], list[dict]] = defaultdict(list)
    themes_by_form: dict[str, set[str]] = defaultdict(set)
    for form, theme in wanted:
        themes_by_form[form].add(theme)
    with poems_file.open(encoding="utf-8") as lines:
        for line_no, raw in enumerate(lines, start=1):
            try:
                record = json.loads(raw)
                matches = [theme for theme in themes_by_form.get(record["form"], ()) if theme in record["title"]]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise PanelError(
                    f"{poems_file} line {line_no} is not a corpus record (form, title, …): "
                    "rebuild the corpus with `lianju corpus build`"
                ) from None
            for theme in matches:
                found[(record["form"], theme)].append(record)
    for candidates in found.values():
        candidates.sort(key=lambda record: record["id"])  # the pick depends on the seed, not the file's order
    return found


def pick_real(
    ours: list[OursPoem], real: dict[tuple[str, str], list[dict]], rng: random.Random
) -> tuple[list[tuple[OursPoem, dict]], list[OursPoem]]:
    """One unused real poem per poem of ours; the poems with no real counterpart are returned apart.

    Blindness comes first (a famous poet's poem only when nothing else fits), then held-out
    splits; within the best tier the seed picks.
    """
    used: set[str] = set()
    matched: list[tuple[OursPoem, dict]] = []
    skipped: list[OursPoem] = []
    for poem in ours:
        ours_text = "".join(poem.lines)
        candidates = [
            record
            for record in real.get((poem.form, poem.theme), [])
            if record["id"] not in used and "".join(record["lines"]) != ours_text
        ]
        if not candidates:
            skipped.append(poem)
            continue
        best = min(_preference(record) for record in candidates)
        choice = rng.choice([record for record in candidates if _preference(record) == best])
        used.add(choice["id"])
        matched.append((poem, choice))
    return matched, skipped


def _preference(record: dict) -> tuple[bool, bool]:
    return record["author"] in FAMOUS_AUTHORS, record["split"] not in HELD_OUT_SPLITS


def rubric_section(rubric: Path, heading: str) -> str:
    if not rubric.is_file():
        raise PanelError(f"no rubric at {rubric}: restore bench/panels/rubric.md or pass --rubric")
    text = rubric.read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if match is None:
        raise PanelError(f'{rubric} has no section "{heading}": the sheets copy it for raters')
    return match.group(1).strip()


def poem_text(lines: list[str]) -> str:
    """床前明月光，疑是地上霜。… as one line: a comma after odd lines, a full stop after even ones."""
    return "".join(line + ("，" if index % 2 == 0 else "。") for index, line in enumerate(lines))


def write_sheet(entries: list[Entry], instructions: str) -> str:
    rows = [f"- {entry.sheet_id}　题：{entry.theme}　{poem_text(entry.lines)}" for entry in entries]
    return "# 评诗 Poems to rate\n\n" + instructions + "\n\n## 诗 Poems\n\n" + "\n".join(rows) + "\n"


def write_pairs(pairs: list[tuple[str, str, list[Entry]]], instructions: str) -> str:
    blocks = [
        f"- {pair_id}　题：{theme}\n  1. {poem_text(two[0].lines)}\n  2. {poem_text(two[1].lines)}"
        for pair_id, theme, two in pairs
    ]
    return "# 比诗 Pairs to compare\n\n" + instructions + "\n\n## 诗 Pairs\n\n" + "\n".join(blocks) + "\n"


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise PanelError(f"--name {name!r} must be a folder name: letters, digits, _ . - (up to 64)")
    return name


@app.command()
def make(
    ours: Annotated[Path, typer.Option(help="Our poems, one JSON per line (`lianju poem THEME --json`).")],
    name: Annotated[str, typer.Option(help="The panel's folder under --panels.")],
    seed: Annotated[int, typer.Option(help="Same seed, same panel.")] = 0,
    corpus: Annotated[
        Path | None, typer.Option(help="Folder holding poems.jsonl; default $LIANJU_DATA_DIR/corpus.")
    ] = None,
    pairs: Annotated[bool, typer.Option("--pairs", help="Also write pairs.md: ours beside its real poem.")] = False,
    panels: Annotated[Path, typer.Option(help="Where panel folders live.")] = PANELS_DIR,
    rubric: Annotated[Path, typer.Option(help="The rubric whose sections head the sheets.")] = RUBRIC,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a panel that already has a key.")] = False,
) -> None:
    """Mix our poems with real ones of the same form and theme into a blind sheet for raters."""
    try:
        _make(ours, check_name(name), seed, corpus, pairs, panels, rubric, force)
    except PanelError as error:
        fail(str(error))


def _make(
    ours_file: Path,
    name: str,
    seed: int,
    corpus: Path | None,
    with_pairs: bool,
    panels: Path,
    rubric: Path,
    force: bool,
) -> None:
    folder = panels / name
    if (folder / "key.json").exists() and not force:
        raise PanelError(
            f"{folder} already holds a panel, and its ratings would no longer match a new one: "
            "choose another --name, or pass --force to overwrite it"
        )
    sheet_instructions = rubric_section(rubric, SHEET_SECTION)
    pair_instructions = rubric_section(rubric, PAIRS_SECTION) if with_pairs else ""
    ours = load_ours(ours_file)
    if corpus is None:
        from bot.config import get_settings

        corpus = get_settings().corpus_dir
    real = load_real(corpus, {(poem.form, poem.theme) for poem in ours})
    rng = random.Random(seed)
    matched, skipped = pick_real(ours, real, rng)
    if not matched:
        raise PanelError(
            "no poem of ours has a real poem of its form whose title holds its theme: "
            "write our poems on commoner themes (月, 春, 秋, 山 …) and run again"
        )

    entries: list[Entry] = []
    couples: list[tuple[Entry, Entry]] = []
    for poem, record in matched:
        mine = Entry("ours", poem.form, poem.theme, poem.lines, {"ours_line": poem.line_no, **poem.origin})
        theirs = Entry(
            "real",
            poem.form,
            poem.theme,
            record["lines"],
            {
                "corpus_id": record["id"],
                "title": record["title"],
                "author": record["author"],
                "dynasty": record["dynasty"],
                "split": record["split"],
            },
        )
        entries += [mine, theirs]
        couples.append((mine, theirs))
    rng.shuffle(entries)
    for number, entry in enumerate(entries, start=1):
        entry.sheet_id = f"P{number:03d}"
    for mine, theirs in couples:
        mine.about["counterpart"], theirs.about["counterpart"] = theirs.sheet_id, mine.sheet_id

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sheet.md").write_text(write_sheet(entries, sheet_instructions), encoding="utf-8")
    write_json(
        folder / "key.json",
        {
            "panel": name,
            "seed": seed,
            "ours_file": str(ours_file),
            "corpus": str(corpus),
            "skipped": [{"ours_line": poem.line_no, "form": poem.form, "theme": poem.theme} for poem in skipped],
            "poems": {
                entry.sheet_id: {
                    "source": entry.source,
                    "form": entry.form,
                    "theme": entry.theme,
                    "lines": entry.lines,
                    **entry.about,
                }
                for entry in entries
            },
        },
    )
    written = [folder / "sheet.md", folder / "key.json"]
    if with_pairs:
        # Drawn after the sheet's shuffle, so the sheet is the same with or without --pairs.
        rng.shuffle(couples)
        pairs: list[tuple[str, str, list[Entry]]] = []
        for number, couple in enumerate(couples, start=1):
            two = list(couple)
            rng.shuffle(two)
            pairs.append((f"Q{number:03d}", two[0].theme, two))
        (folder / "pairs.md").write_text(write_pairs(pairs, pair_instructions), encoding="utf-8")
        write_json(
            folder / "pairs_key.json",
            {
                "panel": name,
                "seed": seed,
                "pairs": {
                    pair_id: {
                        "theme": theme,
                        "form": two[0].form,
                        "1": two[0].sheet_id,
                        "2": two[1].sheet_id,
                        "ours": 1 if two[0].source == "ours" else 2,
                    }
                    for pair_id, theme, two in pairs
                },
            },
        )
        written += [folder / "pairs.md", folder / "pairs_key.json"]
    else:
        # A re-made panel must not keep the pairs of the old one.
        for stale in (folder / "pairs.md", folder / "pairs_key.json"):
            stale.unlink(missing_ok=True)
    _report_make(matched, skipped, written)


def _report_make(matched: list[tuple[OursPoem, dict]], skipped: list[OursPoem], written: list[Path]) -> None:
    # Counts only: whoever makes the panel may rate it too, so which id is ours stays in key.json.
    table = RichTable(title="panel made")
    for header in ("form", "ours", "real from val/test", "real by a famous poet"):
        table.add_column(header, justify="right" if header != "form" else "left")
    for form in JINTI_FORMS:
        picks = [record for poem, record in matched if poem.form == form]
        if picks:
            table.add_row(
                form,
                str(len(picks)),
                str(sum(r["split"] in HELD_OUT_SPLITS for r in picks)),
                str(sum(r["author"] in FAMOUS_AUTHORS for r in picks)),
            )
    console.print(table)
    for poem in skipped:
        console.print(
            f"[yellow]skipped[/] line {poem.line_no} of ours ({poem.form}, 题 {poem.theme}): "
            f"no unused real {poem.form} has {poem.theme} in its title"
        )
    console.print(f"{2 * len(matched)} poems on the sheet; wrote " + escape(", ".join(str(path) for path in written)))


# ---------------------------------------------------------------------------------------------
# tally


@dataclass(frozen=True)
class Rating:
    scores: dict[str, int]
    human: int

    @property
    def overall(self) -> float:
        return statistics.fmean(self.scores.values())


def _whole(value: Any, low: int, high: int, what: str) -> int:
    # bool is an int to Python, but `true` for a score is a mistake, not a 1.
    # The range test comes before int(), which NaN and infinity (both valid JSON to Python) would break.
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not low <= value <= high
        or value != int(value)
    ):
        raise ValueError(f"{what} must be a whole number {low}-{high}, got {json.dumps(value, ensure_ascii=False)}")
    return int(value)


def _known_id(record: dict, ids: set[str]) -> str:
    poem_id = record.get("id")
    if not isinstance(poem_id, str) or poem_id not in ids:
        raise ValueError(f"id {json.dumps(poem_id, ensure_ascii=False)} is not on the sheet")
    return poem_id


def parse_rating(record: Any, ids: set[str]) -> tuple[str, Rating]:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    poem_id = _known_id(record, ids)
    missing = [key for key in (*CRITERIA, "human") if key not in record]
    if missing:
        raise ValueError(f"{', '.join(missing)} missing")
    scores = {key: _whole(record[key], 1, 5, key) for key in CRITERIA}
    human = record["human"]
    return poem_id, Rating(scores, int(human) if isinstance(human, bool) else _whole(human, 0, 1, "human"))


def parse_pair(record: Any, ids: set[str]) -> tuple[str, int]:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    pair_id = _known_id(record, ids)
    if "better" not in record:
        raise ValueError("better missing")
    return pair_id, _whole(record["better"], 1, 2, "better")


def read_ratings(folder: Path, prefix: str, parse, ids: set[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each rater's answers by id, from PREFIX<rater>.jsonl, and every line that could not be used."""
    by_rater: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for path in sorted(folder.glob(f"{prefix}*.jsonl")):
        rater = path.stem.removeprefix(prefix)
        answers: dict[str, Any] = {}
        for line_no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            where = f"{path.name} line {line_no}"
            try:
                key, value = parse(json.loads(raw), ids)
            except json.JSONDecodeError as error:
                problems.append(f"{where}: not JSON ({error.msg}); line skipped")
                continue
            except ValueError as error:
                problems.append(f"{where}: {error}; line skipped")
                continue
            if key in answers:
                problems.append(f"{where}: {key} answered twice; the later line counts")
            answers[key] = value
        missing = sorted(ids - answers.keys())
        if missing:
            shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
            problems.append(f"{path.name}: {len(missing)} of {len(ids)} not answered: {shown}")
        by_rater[rater] = answers
    return by_rater, problems


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank (as Spearman's rho needs)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            result[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rho by hand (scipy is no dependency); None when undefined (under 2 poems, or constant)."""
    if len(x) < 2:
        return None
    try:
        return statistics.correlation(ranks(x), ranks(y))
    except statistics.StatisticsError:
        return None


def cohen_kappa(a: list[int], b: list[int]) -> float | None:
    """Cohen's kappa of two raters' 0/1 guesses; None when chance agreement is certain (or no data)."""
    if not a:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / len(a)
    share_a, share_b = sum(a) / len(a), sum(b) / len(b)
    chance = share_a * share_b + (1 - share_a) * (1 - share_b)
    return None if chance == 1 else (observed - chance) / (1 - chance)


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


SUMMARY_HEADERS = ["poems rated", *CRITERIA, "overall", "taken for a human's"]


def summary_cells(ratings: list[Rating]) -> list[str]:
    if not ratings:
        return ["0"] + ["–"] * (len(CRITERIA) + 2)
    means = [statistics.fmean(rating.scores[key] for rating in ratings) for key in CRITERIA]
    overall = statistics.fmean(rating.overall for rating in ratings)
    human = sum(rating.human for rating in ratings)
    return [
        str(len(ratings)),
        *(f"{mean:.2f}" for mean in means),
        f"{overall:.2f}",
        f"{human} of {len(ratings)} ({human / len(ratings):.0%})",
    ]


def number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def tally_tables(
    key: dict, sheets: dict[str, dict[str, Rating]], pair_key: dict | None, pair_answers: dict[str, dict[str, int]]
) -> list[Table]:
    poems = key["poems"]
    raters = sorted(sheets)
    tables: list[Table] = []
    if raters:
        rows = []
        for rater in [*raters, "all"]:
            chosen = raters if rater == "all" else [rater]
            for source in ("ours", "real"):
                ratings = [
                    rating
                    for name in chosen
                    for poem_id, rating in sheets[name].items()
                    if poems[poem_id]["source"] == source
                ]
                rows.append([rater, source, *summary_cells(ratings)])
        tables.append(
            Table(
                "By source",
                ["rater", "source", *SUMMARY_HEADERS],
                rows,
                "overall: the mean of the five criteria; all: every rating of every rater",
            )
        )
        rows = []
        for form in JINTI_FORMS:
            ratings = [
                rating
                for name in raters
                for poem_id, rating in sheets[name].items()
                if poems[poem_id]["source"] == "ours" and poems[poem_id]["form"] == form
            ]
            if ratings:
                rows.append([form, *summary_cells(ratings)])
        tables.append(Table("Ours by form (all raters)", ["form", *SUMMARY_HEADERS], rows))
        rows = []
        for first, second in itertools.combinations(raters, 2):
            common = sorted(sheets[first].keys() & sheets[second].keys())
            rho = spearman([sheets[first][i].overall for i in common], [sheets[second][i].overall for i in common])
            kappa = cohen_kappa([sheets[first][i].human for i in common], [sheets[second][i].human for i in common])
            rows.append([first, second, str(len(common)), number(rho), number(kappa)])
        tables.append(
            Table(
                "Agreement between raters",
                ["rater", "rater", "poems both rated", "Spearman ρ of overall", "Cohen's κ of human"],
                rows,
                "" if rows else "one rater: no agreement to measure",
            )
        )
    if pair_key is not None and pair_answers:
        rows = []
        pair_raters = sorted(pair_answers)
        for rater in [*pair_raters, "all"]:
            chosen = pair_raters if rater == "all" else [rater]
            choices = [(pair_id, better) for name in chosen for pair_id, better in pair_answers[name].items()]
            wins = sum(better == pair_key["pairs"][pair_id]["ours"] for pair_id, better in choices)
            rows.append(
                [
                    rater,
                    str(len(choices)),
                    f"{wins} of {len(choices)}",
                    f"{wins / len(choices):.0%}" if choices else "–",
                ]
            )
        tables.append(
            Table(
                "Pairs: ours against the real poem on the same theme",
                ["rater", "pairs judged", "ours better", "win rate of ours"],
                rows,
            )
        )
    return tables


def markdown(tables: list[Table]) -> str:
    parts = []
    for table in tables:
        lines = [f"## {table.title}", "", "| " + " | ".join(table.headers) + " |", "|" + "---|" * len(table.headers)]
        lines += ["| " + " | ".join(row) + " |" for row in table.rows]
        if table.note:
            lines += ["", table.note]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def load_json(path: Path, what_next: str, table: str) -> dict:
    """A key written by `make`; TABLE is the field that maps ids to what they are."""
    if not path.is_file():
        raise PanelError(f"no {path}: {what_next}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise PanelError(
            f"{path} is not valid JSON ({error.msg}, line {error.lineno}): restore it, or make the panel again"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get(table), dict):
        raise PanelError(f'{path} has no "{table}" table: restore it, or make the panel again')
    return data


@app.command()
def tally(
    name: Annotated[str, typer.Option(help="The panel's folder under --panels.")],
    panels: Annotated[Path, typer.Option(help="Where panel folders live.")] = PANELS_DIR,
) -> None:
    """Count the raters' answers: means per source, human guesses, agreement, ours per form, pairs."""
    try:
        _tally(panels / check_name(name))
    except PanelError as error:
        fail(str(error))


def _tally(folder: Path) -> None:
    key = load_json(
        folder / "key.json", f"make the panel first (`bench/panel.py make --name {folder.name} …`)", "poems"
    )
    sheets, problems = read_ratings(folder, "ratings-", parse_rating, set(key["poems"]))
    pair_key = None
    pair_answers: dict[str, dict[str, int]] = {}
    if (folder / "pairs_key.json").is_file():
        pair_key = load_json(folder / "pairs_key.json", "", "pairs")
        pair_answers, pair_problems = read_ratings(folder, "pair-ratings-", parse_pair, set(pair_key["pairs"]))
        problems += pair_problems
    if not sheets and not pair_answers:
        raise PanelError(
            f"no ratings in {folder}: each rater's answers go there as ratings-<name>.jsonl "
            "(and pair-ratings-<name>.jsonl for pairs.md), as the sheet's instructions say"
        )
    tables = tally_tables(key, sheets, pair_key, pair_answers)
    for table in tables:
        shown = RichTable(title=table.title, caption=table.note or None)
        for header in table.headers:
            shown.add_column(header)
        for row in table.rows:
            shown.add_row(*(escape(cell) for cell in row))
        console.print(shown)
    for problem in problems:
        console.print(f"[yellow]problem:[/] {escape(problem)}")
    raters = ", ".join(sorted(sheets.keys() | pair_answers.keys()))
    report = f"# Tally of panel {folder.name}\n\nRaters: {raters}.\n\n" + markdown(tables) + "\n"
    if problems:
        report += "\n## Problems\n\n" + "\n".join(f"- {problem}" for problem in problems) + "\n"
    (folder / "tally.md").write_text(report, encoding="utf-8")
    console.print(f"wrote {folder / 'tally.md'}")


def fail(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(2)


if __name__ == "__main__":
    app()
