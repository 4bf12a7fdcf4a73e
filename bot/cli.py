"""`lianju …`: the command line. Each command is a thin layer over engine/ (and later storage/)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.config import get_settings
from engine import corpus as corpus_lib
from engine.prompts import LINE_ENDS
from engine.prosody import PING, ZE, CheckReport
from engine.prosody import check as check_poem
from engine.request import SEED_MAX, PoetError, check_request_text
from engine.text import undecodable

app = typer.Typer(help="联句 Lianju: classical Chinese poetry, together.", no_args_is_help=True)
corpus_app = typer.Typer(help="Build and query the chinese-poetry corpus.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")

console = Console()
errors = Console(stderr=True)


NOT_UTF8 = "the text given is not UTF-8: set the terminal (or the file) to UTF-8 and try again."


def fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _model_folder(model: Path) -> Path:
    from engine.poet import ModelFolderError, require_model_folder

    try:
        require_model_folder(model)
    except ModelFolderError as error:
        fail(str(error))
    return model


def _report_file(out: Path | None) -> Path | None:
    """An --out file, refused before the work rather than after it."""
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        fail(f"--out {out} must be a file in an existing folder")
    return out


@app.command()
def check(
    poem: Annotated[str, typer.Argument(help="The poem; lines split at punctuation or newlines. '-' reads stdin.")],
    form: Annotated[str | None, typer.Option(help="wujue, qijue, wulv, qilv (or 五绝…); default: by shape.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Check a poem's shape, rhyme (平水韵) and 平仄. Exit 0: it scans; 1: it breaks a rule; 2: not a poem."""
    text = sys.stdin.read() if poem == "-" else poem
    if undecodable(text):
        fail(NOT_UTF8)
    report = check_poem(text, form)
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_report(report)
    raise typer.Exit(0 if report.ok else 1 if report.format_ok else 2)


def _print_report(report: CheckReport) -> None:
    if report.format_ok:
        table = Table(show_header=True, header_style="bold", box=None)
        table.add_column("#", justify="right")
        table.add_column("诗句")
        table.add_column("平仄")
        table.add_column("格律")
        for number, (line, actual, expected) in enumerate(zip(report.lines, report.actual, report.expected), 1):
            tones = Text()
            for got, want in zip(actual, expected):
                fits = got == want or got not in (PING, ZE)
                tones.append(got, style="" if fits else "bold red")
            marker = " ←韵" if number in report.rhyme_breaks else ""
            table.add_row(str(number), line + marker, tones, expected)
        console.print(table)
        console.print(
            f"form {report.form} · {report.pattern} · rhyme group {report.rhyme_group or '—'} · "
            f"tone score {report.tone_score:.2f}"
        )

    def verdict(ok: bool) -> str:
        return "[green]✓[/]" if ok else "[red]✗[/]"

    console.print(
        f"shape {verdict(report.format_ok)}  rhyme {verdict(report.rhyme_ok)}  "
        f"平仄 {verdict(report.tone_ok)} (with 拗救 {verdict(report.tone_ok_lenient)})"
    )
    for reason in report.reasons:
        colour = {"error": "red", "warning": "yellow", "note": "cyan"}[reason.severity]
        console.print(f"[{colour}]{reason.severity}[/] {reason.zh}\n      {reason.en}")
    if report.fallback_chars:
        console.print(f"[yellow]note[/] modern tones used for: {''.join(report.fallback_chars)}")


def _source_dir(source: Path | None) -> Path:
    if source is not None:
        if not source.is_dir():
            fail(f"--source {source} is not a folder; pass the chinese-poetry package's dist/ folder")
        return source
    settings = get_settings()
    console.print(f"fetching {settings.corpus_package} with npm into {settings.cache_dir} …")
    try:
        return corpus_lib.fetch_package(settings.corpus_package, settings.cache_dir)
    except RuntimeError as error:
        fail(str(error))


@app.command()
def poem(
    theme: Annotated[
        str,
        typer.Argument(
            help="What the poem is about: a character or a few (月, 春江); may be left out with --first-line."
        ),
    ] = "",
    form: Annotated[str, typer.Option(help="wujue, qijue, wulv, qilv (or 五绝…), or auto.")] = "auto",
    acrostic: Annotated[str | None, typer.Option(help="藏头: the first character of every line.")] = None,
    first_line: Annotated[
        str | None, typer.Option(help="起句: the poem's first line (5 or 7 characters); the rest is written to it.")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, max=100, help="How many poems.")] = 1,
    seed: Annotated[int | None, typer.Option(min=0, max=SEED_MAX, help="Same seed, same poem.")] = None,
    candidates: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=32,
            help="Candidates sampled per poem (default: 16 for a quatrain, 8 for a 律诗); the best is kept.",
        ),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(min=0.05, max=2.0, help="Sampling temperature (default: the engine's, 0.6).")
    ] = None,
    tone_mode: Annotated[str, typer.Option(help="strict, lenient or off.")] = "strict",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per poem, with its prosody report.")] = False,
) -> None:
    """Write a poem that scans: exact shape, one 平水韵 rhyme, 平仄 by the rules."""
    import asyncio

    try:  # before torch and the weights load: a refusal comes at once
        check_request_text(theme, form, acrostic, first_line, tone_mode)
    except PoetError as error:
        fail(f"{error.zh}\n       {error.en}")

    from engine.backends import BackendUnavailable
    from engine.poet import ModelFolderError, Poet

    settings = get_settings()

    async def write() -> None:
        poet = Poet(settings.model_dir, settings.backend, settings.corpus_lines)
        try:
            for index in range(n):
                result = await poet.compose(
                    theme,
                    form=form,
                    acrostic=acrostic,
                    first_line=first_line,
                    n_candidates=candidates,
                    temperature=temperature,
                    seed=None if seed is None else (seed + index) % (SEED_MAX + 1),  # printed seeds stay reusable
                    tone_mode=tone_mode,
                )
                if as_json:
                    print(json.dumps(result.to_dict(), ensure_ascii=False))
                else:
                    _print_poem(result)
        finally:
            await poet.close()

    try:
        asyncio.run(write())
    except PoetError as error:
        fail(f"{error.zh}\n       {error.en}")
    except (BackendUnavailable, ModelFolderError, OSError) as error:
        fail(str(error))


def _print_poem(result) -> None:
    report = result.report
    console.print(f"[bold]《{result.params['theme']}》[/]  {result.form} · {result.rhyme_group or '—'}")
    for number, line in enumerate(result.lines):
        console.print(f"  {line}{LINE_ENDS[number % 2]}")
    checks = "✓" if report["ok"] else ("✓ (拗救)" if report["tone_ok_lenient"] and report["rhyme_ok"] else "✗")
    novelty = "" if result.scores["novelty_checked"] else " · novelty unchecked (no corpus_lines.bloom)"
    plan = result.params.get("plan")
    if plan:
        shown = [*plan["keywords"], *(when for when in (plan["season"], plan["time"]) if when)]
        console.print(f"  [dim]{'意象' if plan['keywords'] else '时令'} {' · '.join(shown)}[/]")
        theme = result.params["theme"]
        if theme and plan["source"] != theme and theme not in "".join(result.lines):
            # the corpus titles no poem with the theme: the plan came from a season, and the poem may not show it
            console.print(
                f"  [dim]诗库中没有以「{theme}」为题的诗，这首借「{plan['source']}」的意象写成，未必切题。"
                f" (No poem in the corpus is titled {theme}; this one was planned from {plan['source']}.)[/]"
            )
    console.print(f"  [dim]格律 {checks} · seed {result.seed} · model {result.model_version}{novelty}[/]")


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Run folder: tokenizer/, checkpoint/, and model/ when done.")],
    size: Annotated[str, typer.Option(help="tiny (tests), small (CPU), base (GPU).")] = "small",
    corpus: Annotated[Path | None, typer.Option(help="A built corpus; default: $LIANJU_DATA_DIR/corpus.")] = None,
    max_steps: Annotated[int, typer.Option(min=1)] = 8000,
    minutes: Annotated[
        float | None, typer.Option(min=0.1, max=10_080, help="Time budget: the LR schedule follows the clock.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    grad_accum: Annotated[int, typer.Option(min=1)] = 1,
    lr: Annotated[float, typer.Option(min=0.0, max=1.0)] = 1e-3,
    warmup_steps: Annotated[int, typer.Option(min=0)] = 200,
    dropout: Annotated[float, typer.Option(min=0.0, max=0.9)] = 0.0,
    eval_every: Annotated[int, typer.Option(min=1)] = 250,
    checkpoint_every: Annotated[int, typer.Option(min=1)] = 250,
    stop_after: Annotated[
        int | None, typer.Option(min=1, help="Checkpoint and stop after N steps of this run.")
    ] = None,
    precision: Annotated[str, typer.Option(help="auto, bf16 or fp32.")] = "auto",
    seed: int = 1234,
    resume: Annotated[bool, typer.Option(help="Go on from out/checkpoint.")] = False,
    init_from: Annotated[Path | None, typer.Option(help="Warm start from this from_pretrained folder.")] = None,
    extra_text: Annotated[
        bool, typer.Option(help="Read the corpus's poems of other forms (古体, 词) too, as extra text.")
    ] = True,
) -> None:
    """Pre-train the poetry model from scratch; resumable; SIGTERM checkpoints and stops."""
    from engine.train import SIZES, TrainConfig
    from engine.train import train as run_training

    if size not in SIZES:
        fail(f"unknown size {size!r}; use one of: {', '.join(SIZES)}")
    if precision not in ("auto", "bf16", "fp32"):
        fail(f"unknown precision {precision!r}; use auto, bf16 or fp32")
    corpus = corpus or get_settings().corpus_dir
    if not (corpus / "poems.jsonl").is_file():
        fail(f"no corpus at {corpus}: run `lianju corpus build` first (or pass --corpus)")
    if init_from is not None:
        _model_folder(init_from)
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file: the run is a folder")
    if not resume and (out / "checkpoint").exists():
        fail(f"{out} holds a run already: add --resume to go on with it, or choose a new --out")
    config = TrainConfig(
        corpus=corpus,
        out=out,
        size=size,
        max_steps=max_steps,
        minutes=minutes,
        batch_size=batch_size,
        grad_accum=grad_accum,
        lr=lr,
        warmup_steps=min(warmup_steps, max_steps),
        dropout=dropout,
        eval_every=eval_every,
        checkpoint_every=checkpoint_every,
        stop_after=stop_after,
        precision=precision,
        seed=seed,
        init_from=init_from,
        extra_text=extra_text,
    )
    try:
        model_dir = run_training(config, resume=resume)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    if model_dir is not None:
        console.print(f"model saved to {model_dir}")


@app.command()
def align(
    judged: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help='Marked poems, JSONL: {"theme", "form", "lines", "failing"} each; with --choices, readers\' '
            'choices: {"theme", "form", "chosen", "rejected"} each.',
        ),
    ],
    out: Annotated[Path, typer.Option(help="The aligned model folder to write.")],
    choices: Annotated[
        bool, typer.Option("--choices", help="Learn readers' choices between two poems (DPO), not line marks (KTO).")
    ] = False,
    model: Annotated[
        Path | None, typer.Option(help="The model to align; default: LIANJU_MODEL_DIR (the shipped model).")
    ] = None,
    corpus: Annotated[Path | None, typer.Option(help="A built corpus; default: $LIANJU_DATA_DIR/corpus.")] = None,
    steps: Annotated[int | None, typer.Option(min=1, max=100_000, help="Default: 200 (marks), 400 (choices).")] = None,
    lr: Annotated[float, typer.Option(min=0.0, max=1.0)] = 1e-5,
    beta: Annotated[float | None, typer.Option(min=0.01, max=100.0, help="Default: 1 (marks), 0.1 (choices).")] = None,
    seed: int = 0,
) -> None:
    """Make the lines readers marked as failing less likely and those they passed more likely (KTO); with
    --choices, the poems readers chose likelier than those they chose them over (DPO)."""
    from engine.preference import CHOICES_CONFIG, AlignConfig, align_to_choices, read_choices, read_marks
    from engine.preference import align as run_alignment

    corpus = corpus or get_settings().corpus_dir
    if not (corpus / "poems.jsonl").is_file():
        fail(f"no corpus at {corpus}: run `lianju corpus build` first (or pass --corpus)")
    model = _model_folder(model or get_settings().model_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        fail(f"{out} is not empty (or not a folder): choose a new folder for the aligned model")
    defaults = CHOICES_CONFIG if choices else AlignConfig()
    config = replace(
        defaults, steps=steps or defaults.steps, lr=lr, beta=defaults.beta if beta is None else beta, seed=seed
    )
    try:
        if choices:
            summary = align_to_choices(model, out, read_choices(judged), corpus, config)
        else:
            summary = run_alignment(model, out, read_marks(judged), corpus, config)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    console.print(
        f"aligned on {summary['learnt_from']}; held-out NLL {summary['heldout_nll_before']} → "
        f"{summary['heldout_nll_after']}; model saved to {out}\n"
        "refit its readers for the best ranking: bench/reader.py --model OUT, bench/line_reader.py --model OUT"
    )


@app.command("eval")
def evaluate_model(
    model: Annotated[
        Path | None, typer.Option(help="A from_pretrained directory; default: LIANJU_MODEL_DIR (the shipped model).")
    ] = None,
    corpus: Annotated[Path | None, typer.Option(help="A built corpus; default: $LIANJU_DATA_DIR/corpus.")] = None,
    samples: Annotated[int, typer.Option(min=1, max=10_000, help="Unconstrained samples per form.")] = 100,
    ids: Annotated[Path | None, typer.Option(help="Held-out poem ids; default: the frozen list.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    seed: int = 0,
    meaning: Annotated[
        bool,
        typer.Option("--meaning", help="Judge meaning instead: theme, line coherence, fluency against real poems."),
    ] = False,
    themes: Annotated[str, typer.Option(help="With --meaning: the dev or acceptance themes.")] = "dev",
    per_theme: Annotated[int, typer.Option(min=1, max=100, help="With --meaning: poems per theme and form.")] = 1,
    poems: Annotated[
        Path | None,
        typer.Option(
            help="With --meaning: judge these poems (JSON lines with lines, form, theme) instead of writing them."
        ),
    ] = None,
) -> None:
    """Held-out NLL and unconstrained shape/rhyme/tone/copy/diversity rates; prints a table.

    With --meaning: the yardsticks of meaning (engine/yardsticks.py) for our poems and real ones."""
    from engine.evaluate import HELDOUT_IDS, evaluate

    model = model or get_settings().model_dir
    corpus = corpus or get_settings().corpus_dir
    if not (corpus / "poems.jsonl").is_file():
        fail(f"no corpus at {corpus}: run `lianju corpus build` first (or pass --corpus)")
    out = _report_file(out)
    if ids is not None and not ids.is_file():
        fail(f"--ids {ids} is not a file: a list of poem ids, one per line")
    try:
        if meaning:
            _evaluate_meaning(model, corpus, themes, per_theme, poems, out, seed)
            return
        _model_folder(model)
        report = evaluate(model, corpus, samples, ids or HELDOUT_IDS, seed)
    except corpus_lib.CorpusUnreadable as error:
        fail(str(error))
    if out:
        out.write_text(report.to_json())
    nll = f"{report.heldout_nll:.3f}" if report.heldout_nll is not None else "—"
    console.print(
        f"{report.model}: {report.parameters / 1e6:.1f}M parameters · held-out NLL {nll} nats/token "
        f"on {report.heldout_poems} poems ({report.heldout_source}) · {report.seconds:.0f} s"
    )
    table = Table(title=f"unconstrained sampling, {samples} per form", header_style="bold")
    for column in ("form", "shape", "rhyme", "平仄", "copied lines", "distinct-1", "distinct-2"):
        table.add_column(column, justify="right")
    for form, quality in report.sampling.items():
        table.add_row(
            form,
            *(
                f"{value:.1%}"
                for value in (
                    quality.shape_ok,
                    quality.rhyme_ok,
                    quality.tone_ok,
                    quality.copied_lines,
                    quality.distinct_1,
                    quality.distinct_2,
                )
            ),
        )
    console.print(table)


def _evaluate_meaning(
    model: Path, corpus: Path, themes: str, per_theme: int, poems: Path | None, out: Path | None, seed: int
) -> None:
    import time

    from engine import yardsticks

    if themes not in yardsticks.THEME_SETS:
        fail(f"--themes {themes}: use one of {', '.join(yardsticks.THEME_SETS)}")
    if poems is not None:
        ours = _read_meaning_poems(poems)
    else:
        _model_folder(model)
        written = _write_meaning_poems(model, yardsticks.THEME_SETS[themes], per_theme, seed)
        saved = (
            out.with_name(out.stem + ".poems.jsonl")
            if out
            else (get_settings().data_dir / "eval" / f"meaning-{themes}-{time.strftime('%Y%m%d-%H%M%S')}.poems.jsonl")
        )
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text("".join(json.dumps(poem, ensure_ascii=False) + "\n" for poem in written), encoding="utf-8")
        console.print(f"{len(written)} poems written to {saved} (re-score them with --poems)")
        ours = [yardsticks.Judged(tuple(p["lines"]), p["form"], p["theme"]) for p in written]
    if not ours:
        fail("no poems to judge")
    started = time.monotonic()
    stats = yardsticks.load_stats(corpus)
    report = yardsticks.judge(stats, ours, yardsticks.heldout(corpus), seed)
    if out:
        out.write_text(report.to_json(), encoding="utf-8")
    _print_meaning(report, time.monotonic() - started)


def _read_meaning_poems(path: Path) -> list:
    """Poems from JSON lines (`lianju poem --json` plus "theme" works: the theme may be in params)."""
    from engine.yardsticks import Judged

    try:
        rows = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read --poems {path}: {error}")
    poems = []
    for number, row in enumerate(rows, 1):
        if not row.strip():
            continue
        try:
            record = json.loads(row)
        except json.JSONDecodeError as error:
            fail(f"{path}:{number}: not JSON ({error.msg}); write one JSON object per line")
        if not isinstance(record, dict):
            fail(f"{path}:{number}: not a JSON object; write one object per line")
        params = record.get("params")
        theme = record.get("theme") or (params.get("theme") if isinstance(params, dict) else None)
        lines, form = record.get("lines"), record.get("form")
        if not (isinstance(lines, list) and lines and all(isinstance(line, str) and line for line in lines)):
            fail(f'{path}:{number}: "lines" must be a list of non-empty strings')
        if not (isinstance(form, str) and isinstance(theme, str) and theme):
            fail(f'{path}:{number}: needs "form" and "theme" (strings; the theme may be in "params")')
        poems.append(Judged(tuple(lines), form, theme))
    return poems


def meaning_requests(
    themes: tuple[str, ...], forms: tuple[str, ...], per_theme: int, seed: int
) -> list[tuple[str, str, int]]:
    """(theme, form, seed) of every poem `lianju eval --meaning` writes: per_theme per theme and form, every poem
    its own seed. With seed + index, a theme's forms shared one seed and so one plan: its 五绝 and 七绝 read as two
    drafts of one poem on the blind sheet, and raters named such pairs machine-made
    (bench/panels/2026-11-30-session19-final). The bot draws a fresh seed for every request."""
    slots = [(theme, form) for theme in themes for form in forms for _ in range(per_theme)]
    return [(theme, form, seed + number) for number, (theme, form) in enumerate(slots)]


def _write_meaning_poems(model: Path, themes: tuple[str, ...], per_theme: int, seed: int) -> list[dict]:
    """per_theme poems per theme and 近体 form, with engine.Poet as the bot writes them."""
    import asyncio

    from tqdm import tqdm

    from engine.backends import BackendUnavailable
    from engine.poet import ModelFolderError, Poet
    from engine.yardsticks import FORMS

    settings = get_settings()
    jobs = meaning_requests(themes, FORMS, per_theme, seed)

    async def write_all() -> list[dict]:
        poet = Poet(model, settings.backend, settings.corpus_lines)
        written = []
        try:
            # One request at a time, as the bot answers one user: a poem is rewritten from a line readers
            # would mark only while no other request waits (engine.poet), so requests in flight together
            # were rewritten less often than the bot's answers are (bench/RESULTS.md, session 20).
            for theme, form, poem_seed in tqdm(jobs, desc="writing poems", unit=" poems"):
                try:
                    poem = await poet.compose(theme, form=form, seed=poem_seed)
                except PoetError as error:
                    errors.print(f"skipped {theme} {form}: {error.en}")
                    continue
                written.append({"theme": theme, **poem.to_dict()})
        finally:
            await poet.close()
        return written

    try:
        return asyncio.run(write_all())
    except (BackendUnavailable, ModelFolderError, OSError) as error:
        fail(str(error))


def _print_meaning(report, seconds: float) -> None:
    from engine.yardsticks import MIN_PROFILE_POEMS

    def cell(value: float | None, percent: bool = False) -> str:
        return "—" if value is None else f"{value:.1%}" if percent else f"{value:.3f}"

    table = Table(
        title=f"yardsticks of meaning · {len(report.themes)} themes, {report.candidates} candidates",
        header_style="bold",
    )
    for column in ("", "poems", "theme pct", "top-1", "top-5", "PMI", "lift", "attested", "cliché"):
        table.add_column(column, justify="right")
    for name, row in (("ours", report.ours), ("held-out real", report.real), ("floor", report.floor)):
        table.add_row(
            name,
            str(row.poems),
            cell(row.percentile),
            cell(row.top1, True),
            cell(row.top5, True),
            cell(row.coherence),
            cell(row.lift),
            cell(row.attested, True),
            cell(row.cliche, True),
        )
    console.print(table)
    console.print(
        "[dim]theme pct: percentile rank of the true theme (1 = first, 0.5 = chance); PMI: line "
        "coherence; lift: PMI minus that of the same poems' lines swapped between them; floor: random "
        "themes for the theme columns, frankenpoems for PMI[/]"
    )
    console.print(
        f"share of the way from floor to real poems: theme {cell(report.theme_share, True)}, "
        f"line coherence {cell(report.coherence_share, True)}, lift {cell(report.lift_share, True)}"
    )
    if report.compared_themes != report.themes:
        left = [t for t in report.themes if t not in report.compared_themes]
        console.print(
            f"[dim]theme columns over {len(report.compared_themes)} themes; without a ceiling "
            f"(too few titled held-out poems): {' '.join(left) or '—'}[/]"
        )
    thin = [t for t, row in report.per_theme.items() if row["profile_poems"] < MIN_PROFILE_POEMS]
    if thin:
        console.print(f"[dim]thin profiles (< {MIN_PROFILE_POEMS} titled train poems): {' '.join(thin)}[/]")
    console.print(f"[dim]{seconds:.0f} s[/]")


@corpus_app.command("build")
def corpus_build(
    source: Annotated[Path | None, typer.Option(help="A chinese-poetry dist/ folder; default: npm pack it.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder; default: $LIANJU_DATA_DIR/corpus.")] = None,
) -> None:
    """Clean, simplify, classify and split the corpus; write records, couplets and the line index."""
    source = _source_dir(source)
    out = out or get_settings().corpus_dir
    try:
        summary = corpus_lib.build(source, out)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    table = Table(title=f"corpus → {out}", header_style="bold")
    table.add_column("form")
    for split in corpus_lib.SPLITS:
        table.add_column(split, justify="right")
    table.add_column("total", justify="right")
    for form, counts in summary.by_form_split.items():
        cells = [str(counts.get(split, 0)) for split in corpus_lib.SPLITS]
        table.add_row(form, *cells, str(sum(counts.values())))
    console.print(table)
    dropped = Table(title="dropped / repaired", header_style="bold")
    dropped.add_column("reason")
    dropped.add_column("poems", justify="right")
    for reason, count in summary.dropped.items():
        dropped.add_row(f"dropped: {reason}", str(count))
    for reason, count in summary.repaired.items():
        dropped.add_row(f"repaired: {reason}", str(count))
    console.print(dropped)
    console.print(
        f"{summary.records} poems ({summary.jinti} in 近体 shapes), {summary.lines} lines, "
        f"{summary.couplets} couplets in {summary.seconds:.0f} s"
    )


@corpus_app.command("find")
def corpus_find(
    text: Annotated[str, typer.Argument(help="A whole line, or characters a line should contain.")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
) -> None:
    """Is this line in the corpus? Otherwise: lines that contain these characters."""
    if not corpus_lib.han_only(text):
        fail("give at least one Chinese character")
    try:
        index = corpus_lib.LineIndex(get_settings().corpus_dir / "corpus.sqlite")
    except (FileNotFoundError, corpus_lib.CorpusUnreadable) as error:
        fail(str(error))
    exact = index.find(text)
    hits = exact or index.containing(text, limit)
    console.print("exact line:" if exact else f"lines containing {corpus_lib.han_only(text)}:")
    for hit in hits[:limit]:
        console.print(f"  {hit.text}  —— {hit.author}《{hit.title}》")
    if not hits:
        console.print("  (none)")


@corpus_app.command("crosscheck")
def corpus_crosscheck(
    source: Annotated[Path | None, typer.Option(help="A chinese-poetry dist/ folder; default: npm pack it.")] = None,
) -> None:
    """Agreement of our 平水韵 tones with the corpus's own `strains`, and the modern-tone fallback rate."""
    try:
        result = corpus_lib.crosscheck_strains(_source_dir(source))
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    table = Table(title="tones vs strains", header_style="bold")
    table.add_column("what")
    table.add_column("characters", justify="right")
    table.add_column("share", justify="right")
    table.add_row(f"compared (poems aligned: {result.poems})", str(result.chars), "100%")
    table.add_row("one Pingshui tone, agreeing", f"{result.single_agree}/{result.single}", f"{result.agreement:.2%}")
    table.add_row("多音 in Pingshui (either tone)", str(result.either), f"{result.either / result.chars:.2%}")
    table.add_row("modern-tone fallback", str(result.fallback), f"{result.fallback_rate:.2%}")
    table.add_row(
        "  of which agreeing", str(result.fallback_agree), f"{result.fallback_agree / max(result.fallback, 1):.2%}"
    )
    table.add_row("unknown", str(result.unknown), f"{result.unknown / result.chars:.2%}")
    console.print(table)
    worst = " ".join(f"{char}×{n}" for char, n in result.disagreements.most_common(10))
    console.print(f"most frequent disagreements: {worst}")


db_app = typer.Typer(help="The database at LIANJU_DATABASE_URL: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _run_on_database(work):
    """Run `work(engine)` on the configured database; storage errors end the command cleanly."""
    import asyncio

    from storage.db import create_engine
    from storage.errors import StorageError

    async def run():
        engine = create_engine(get_settings().database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except StorageError as error:
        fail(str(error))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database to the newest schema (or to REVISION); creates it when missing."""
    from storage.db import async_url, current_revision, migrate

    async def upgrade(engine):
        before = await current_revision(engine)
        await migrate(engine, "upgrade", revision)
        return before, await current_revision(engine)

    before, reached = _run_on_database(upgrade)
    where = async_url(get_settings().database_url).render_as_string(hide_password=True)
    if before != reached:
        console.print(f"{where} is at revision {reached}")
    elif revision in ("head", reached):
        console.print(f"{where} is at revision {reached} already: nothing to do")
    else:  # an earlier revision: upgrade never goes back
        console.print(
            f"{where} is at revision {reached}, past {revision}: nothing to do "
            f"(`alembic downgrade {revision}` goes back)"
        )


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and the one this version expects. Exit 1 when they differ."""
    from sqlalchemy.engine import make_url

    from storage.db import current_revision, head_revision

    head = head_revision()
    url = make_url(get_settings().database_url)
    if (
        url.get_backend_name() == "sqlite"
        and url.database not in (None, "", ":memory:")
        and not Path(url.database).exists()
    ):
        console.print(f"database: (none at {url.database})  expected: {head}", soft_wrap=True)  # a look makes no file
        raise typer.Exit(1)
    current = _run_on_database(current_revision)
    console.print(f"database: {current or '(empty)'}  expected: {head}")
    raise typer.Exit(0 if current == head else 1)


@app.command()
def finetune(
    min_votes: Annotated[int, typer.Option(min=1, help="Raters a poem needs.")] = 3,
    min_mean: Annotated[float, typer.Option(min=1.0, max=5.0, help="Bayesian mean rating a poem needs.")] = 4.0,
    min_poems: Annotated[int, typer.Option(min=1, help="New poems a run needs; fewer and it is skipped.")] = 20,
    samples: Annotated[int, typer.Option(min=1, help="Unconstrained samples per form for the gates.")] = 50,
    epochs: Annotated[int, typer.Option(min=1, max=10)] = 2,
    lr: Annotated[float, typer.Option(min=0.0, max=1.0)] = 1e-4,
    method: Annotated[str | None, typer.Option(help="full, lora or qlora; default: LIANJU_FINETUNE_METHOD.")] = None,
) -> None:
    """Fine-tune the active model on the poems people rated highly; promote it only if it passes the gates."""
    import asyncio

    from bot.learning import run_finetune
    from engine.finetune import METHODS
    from engine.novelty import CorpusLinesError
    from storage.errors import StorageError

    if method is not None and method not in METHODS:
        fail(f"unknown method {method!r}; use one of: {', '.join(METHODS)}")
    settings = get_settings() if method is None else get_settings().model_copy(update={"finetune_method": method})
    try:
        result = asyncio.run(
            run_finetune(
                settings,
                min_votes=min_votes,
                min_mean=min_mean,
                min_poems=min_poems,
                samples=samples,
                epochs=epochs,
                lr=lr,
            )
        )
    except (FileNotFoundError, StorageError, CorpusLinesError) as error:
        fail(str(error))
    if result.gates:
        table = Table(title="gates", header_style="bold")
        for column in ("gate", "active", "candidate", "limit", "passed"):
            table.add_column(column, justify="right")
        for name, gate in result.gates.items():
            if name != "passed":
                table.add_row(
                    name,
                    f"{gate['active']:.4f}",
                    f"{gate['candidate']:.4f}",
                    f"{gate['limit']:.4f}",
                    "✓" if gate["passed"] else "✗",
                )
        console.print(table)
    console.print(f"data: {result.counts}")
    console.print(f"[bold]{result.outcome}[/]: {result.message}")
    raise typer.Exit(1 if result.outcome == "failed" else 0)


models_app = typer.Typer(
    help="The model registry: every fine-tuned version, which one is active.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


def _registry(change):
    """Run `change(session)` in one unit of work on the configured database; returns its result."""
    from bot.services import prepare_schema
    from storage import repo
    from storage.db import Database

    async def work(engine):
        await prepare_schema(get_settings(), engine)
        database = Database(engine)
        async with database.unit_of_work() as session:
            await repo.ensure_default_model(session, str(get_settings().model_dir))
            return await change(session)

    return _run_on_database(work)


@models_app.command("list")
def models_list() -> None:
    """Every version with its status and gate results."""
    from storage import repo

    versions = _registry(repo.list_models)
    table = Table(header_style="bold")
    for column in ("name", "status", "parent", "created", "gates", "path"):
        table.add_column(column)
    names = {version.id: version.name for version in versions}
    for version in versions:
        gates = version.metrics.get("passed")
        table.add_row(
            version.name,
            version.status.value,
            names.get(version.parent_id, "—"),
            f"{version.created_at:%Y-%m-%d %H:%M}",
            "—" if gates is None else "✓" if gates else "✗",
            version.path,
        )
    console.print(table)


@models_app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="The version to make active.")],
    force: Annotated[
        bool, typer.Option("--force", help="Promote a candidate although it failed its gates against the active model.")
    ] = False,
) -> None:
    """Make a version active (the running bot picks it up without a restart); a folder that does not load is
    refused, and so is a candidate that failed its gates unless --force says so."""
    import asyncio

    from sqlalchemy import select

    from engine.poet import try_loading
    from storage import repo
    from storage.models import ModelVersion

    async def promote(session):
        version = await session.scalar(select(ModelVersion).where(ModelVersion.name == name))
        if version is None:
            fail(f"no model version named {name[:100]!r}; `lianju models list` shows them")
        failed = [
            f"{gate} {result['candidate']:.4f} against {result['active']:.4f}, limit {result['limit']:.4f}"
            for gate, result in version.metrics.items()
            if isinstance(result, dict) and not result.get("passed", True)
        ]
        if failed and not force:
            fail(
                f"{name} failed its gates against the model active then ({'; '.join(failed)}); "
                "--force promotes it anyway"
            )
        try:
            await asyncio.to_thread(try_loading, Path(version.path), get_settings().backend)
        except Exception as error:  # whatever a broken folder raises; the bot would fail the same way
            fail(f"{name} at {version.path} does not load ({type(error).__name__}: {error}); it stays as it is")
        return await repo.promote(session, version.id)

    console.print(f"{_registry(promote).name} is active")


@models_app.command("rollback")
def models_rollback() -> None:
    """Go back to the version that was active before the current one."""
    from storage import repo

    console.print(f"{_registry(repo.roll_back).name} is active again")


@models_app.command("card")
def models_card(
    folder: Annotated[Path, typer.Argument(help="A from_pretrained folder (model and tokenizer).")],
    facts: Annotated[
        Path | None,
        typer.Option(
            help="JSON: the card's facts (engine/model_card.py lists the keys), or a `lianju eval --out` report."
        ),
    ] = None,
) -> None:
    """(Re)write the folder's README.md model card, and fix its configs for transformers 4.5x and 5.x."""
    from engine.model_card import CARD, finish_model_folder

    given = {}
    if facts:
        try:
            given = json.loads(facts.read_text())
        except (OSError, ValueError) as error:
            fail(f"cannot read the facts in {facts}: {error}; pass a JSON object")
        if not isinstance(given, dict):
            fail(f"the facts in {facts} are a JSON {type(given).__name__}; pass a JSON object")
        if "heldout_nll" in given:  # a report of `lianju eval --out`
            given = {"evaluation": given}
    try:
        finish_model_folder(folder, given)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    console.print(f"wrote {folder / CARD}; tokenizer_config.json and generation_config.json fixed")


@app.command()
def run() -> None:
    """Run the Discord bot (token in LIANJU_DISCORD_TOKEN) until SIGTERM or Ctrl-C."""
    import asyncio
    import logging

    from bot.discord.app import DiscordUnreachable, TokenProblem, run_bot
    from bot.services import ModelUnavailable
    from storage.errors import StorageError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(run_bot(get_settings()))
    except (TokenProblem, DiscordUnreachable, ModelUnavailable, StorageError) as error:
        fail(str(error))


@app.command("console")
def console_command(
    locale: Annotated[str, typer.Option(help="zh-CN, zh-TW or en: the language of the replies.")] = "zh-CN",
    name: Annotated[str, typer.Option(help="Your name in the database.")] = "console",
) -> None:
    """The bot's commands in a terminal, no Discord needed: /poem 月, /rate ID STARS, /top, /mypoems, /model."""
    import asyncio

    from bot.console import run_console
    from bot.services import ModelUnavailable
    from storage.errors import StorageError

    try:
        asyncio.run(run_console(get_settings(), locale, name))
    except (ModelUnavailable, StorageError) as error:
        fail(str(error))


# Exit status of a failure no command foresaw (0-2 mean what `check` says they mean).
UNEXPECTED_EXIT = 3


def _unforeseen(error: Exception) -> tuple[str, int]:
    """What to tell the user about an error that left a command: the families a user can fix
    themselves (a setting, the database, the terminal's encoding) in one line each; anything else
    with its traceback saved to a file rather than printed."""
    import tempfile
    import time
    import traceback

    from pydantic import ValidationError
    from pydantic_settings import SettingsError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, ValidationError):  # get_settings(): a LIANJU_* variable (or .env line) of the wrong kind
        bad = "; ".join(
            f"LIANJU_{'_'.join(map(str, problem['loc'])).upper()}={problem.get('input')!r}: {problem['msg']}"
            for problem in error.errors()
        )
        return f"a setting cannot be used: {bad}. Fix the variable (or .env), or unset it for the default.", 2
    if isinstance(error, SettingsError):  # a LIANJU_* list or dict that is not JSON
        return (
            f"a setting cannot be used: {error}. Lists are JSON ([1, 2]); fix the variable (or .env), or unset it.",
            2,
        )
    if isinstance(error, DBAPIError):
        url = make_url(get_settings().database_url).render_as_string(hide_password=True)
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        return (
            f"the database at {url} cannot be used: {reason}. Check LIANJU_DATABASE_URL and that the server is "
            "running; a damaged SQLite file can be moved aside (a new one is made on the next start).",
            2,
        )
    if isinstance(error, OSError) and error.filename:  # a folder or file of the user's: a path to fix
        return (
            f"cannot use {error.filename}: {error.strerror}. "
            "Check the path (LIANJU_DATA_DIR, --out …) and its permissions.",
            2,
        )
    if isinstance(error, UnicodeError):  # stdin or a file that is not UTF-8
        return NOT_UTF8, 2
    saved = Path(tempfile.gettempdir()) / f"lianju-error-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    saved.write_text("".join(traceback.format_exception(error)), encoding="utf-8")
    return (
        f"unexpected {type(error).__name__}: {error}. This is a bug in lianju; the details are in {saved} "
        "(please attach them when you report it).",
        UNEXPECTED_EXIT,
    )


def main() -> None:
    """The `lianju` console script: the app, with no traceback ever reaching the user."""
    try:
        if any(map(undecodable, sys.argv[1:])):
            raise UnicodeError(NOT_UTF8)
        app(standalone_mode=True)
    except Exception as error:  # every command's own errors are messages already; this is what is left
        message, code = _unforeseen(error)
        errors.print(Text.assemble(("error: ", "bold red"), message), highlight=False)
        sys.exit(code)
