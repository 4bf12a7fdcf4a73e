"""The checker's report (engine.prosody.check) as a reader sees it: each line with its tones, the
ones against the pattern marked, the verdict, the facts and the reasons, in the reader's language.
`lianju check` prints the same report as a table; Discord's /check shows this one."""

from __future__ import annotations

from dataclasses import dataclass

from bot import i18n
from engine.forms import JINTI_FORMS
from engine.prosody import PING, ZE, CheckReport, tone_patterns

MAX_REASONS = 12  # a poem breaking more rules than this is shown its first ones and a count
SEVERITY_MARKS = {"error": "✗", "warning": "⚠", "note": "ℹ"}


@dataclass(frozen=True)
class CheckSummary:
    ok: bool
    rows: list[str]  # one per line of the poem, Markdown: the line, its tones, the pattern's
    facts: list[tuple[str, str]]  # (label, value): form, pattern, rhyme group, tone score
    verdict: str
    reasons: list[str]
    notes: list[str]


def _marked(text: str, wrong: set[int]) -> str:
    return "".join(f"**{char}**" if index in wrong else char for index, char in enumerate(text))


def summarise(report: CheckReport, locale: object) -> CheckSummary:
    def say(zh: str, en: str) -> str:
        return i18n.bilingual(locale, zh, en)

    rows, facts = [], []
    form = JINTI_FORMS[report.form] if report.format_ok and report.form else None
    if form is not None:
        free = set(form.free_positions)  # 一三五不论: no tone there is wrong
        for number, (line, actual, expected) in enumerate(zip(report.lines, report.actual, report.expected), 1):
            wrong = {
                index
                for index, (got, want) in enumerate(zip(actual, expected))
                if index not in free and got != want and got in (PING, ZE)  # 中 and ？ fit any tone
            }
            shown = say(line, line)  # the poem itself in the reader's script
            rhyme = f" {i18n.text('check.rhyme_break', locale)}" if number in report.rhyme_breaks else ""
            rows.append(f"`{number}` {_marked(shown, wrong)}｜{_marked(actual, wrong)}｜{expected}{rhyme}")
        facts.append((i18n.text("poem.form", locale), say(form.label_zh, form.label_en)))
        pattern = next((p for p in tone_patterns(form) if p.label_zh == report.pattern), None)
        if pattern is not None:
            facts.append((i18n.text("check.pattern", locale), say(pattern.label_zh, pattern.label_en)))
        facts.append((i18n.text("poem.rhyme", locale), say(report.rhyme_group or "—", report.rhyme_group or "—")))
        facts.append((i18n.text("check.tone_score", locale), f"{report.tone_score:.0%}"))

    def verdict(ok: bool) -> str:
        return "✓" if ok else "✗"

    summary = i18n.text(
        "check.verdict",
        locale,
        shape=verdict(report.format_ok),
        rhyme=verdict(report.rhyme_ok),
        tones=verdict(report.tone_ok),
        lenient=verdict(report.tone_ok_lenient),
    )
    reasons = [f"{SEVERITY_MARKS[r.severity]} {say(r.zh, r.en)}" for r in report.reasons]
    if len(reasons) > MAX_REASONS:
        reasons = reasons[:MAX_REASONS] + [i18n.text("check.more", locale, count=len(reasons) - MAX_REASONS)]
    notes = []
    if report.fallback_chars:
        chars = "".join(report.fallback_chars)
        notes.append(i18n.text("check.fallback", locale, chars=say(chars, chars)))
    return CheckSummary(report.ok, rows, facts, summary, reasons, notes)
