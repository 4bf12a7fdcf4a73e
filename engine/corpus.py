"""chinese-poetry → cleaned, simplified, classified records; splits; couplets; a line index.

`build(source, out)` reads the npm package's `dist/` folder (traditional characters for 诗,
simplified for 词) and writes into `out`:

    poems.jsonl     one record a line: id, dynasty, author, title, lines, form, text, split
    couplets.jsonl  lines 3-4 and 5-6 of every 律诗: poem_id, form, first, second, split
    corpus.sqlite   poems, every line with its poem, and a full-text index of lines by character
    corpus_lines.bloom  a Bloom filter of every line (engine.novelty), for the poet's copy check
    summary.json    records per form and split, dropped and repaired by reason

The split is a hash of the normalised text (simplified Han characters only), so a poem and
its duplicates always land together; exact duplicates are dropped, the first one kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from engine.forms import JINTI_FORMS, form_for_shape
from engine.novelty import CorpusLines
from engine.text import is_han, non_han, split_lines, strip_invisible, to_simplified

# (glob under dist/, dynasty, kind); together about 333k poems.
SOURCES = (
    ("quantangshi/poet.tang.*.json", "tang", "shi"),
    ("quantangshi/poet.song.*.json", "song", "shi"),
    ("songci/ci.song.*.json", "song", "ci"),
)

SPLITS = ("train", "val", "test")
NOVELTY_FILTER = "corpus_lines.bloom"

# Marks that stand for lost characters (缺字): such a poem cannot be repaired.
_GAP = re.compile(r"[□○●■◎△▲◇◆☐＿_…]|\{[^{}]*\}")
# Editorial notes (一作…, 原注, footnote numbers) live in brackets and are cut out.
_NOTE = re.compile(r"（[^（）]*）|\([^()]*\)|〔[^〔〕]*〕|〖[^〖〗]*〗|【[^【】]*】|\[[^\[\]]*\]")
# Quotation and title marks inside a line carry no sound: keep their contents, drop the marks.
_QUOTES = re.compile(r"[“”‘’「」『』《》〈〉\"'·]")


@dataclass
class Record:
    id: str
    dynasty: str
    author: str
    title: str
    lines: list[str]
    form: str
    text: str
    split: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass
class Cleaned:
    record: Record | None
    key: str = ""  # normalised text, for deduplication
    dropped: str = ""  # reason, when record is None
    repaired: list[str] = field(default_factory=list)


def han_only(text: str) -> str:
    """Simplified Han characters of `text`, nothing else: the form lines are stored in."""
    return "".join(char for char in to_simplified(text) if is_han(char))


def split_of(key: str) -> str:
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "test" if bucket == 99 else "val" if bucket == 98 else "train"


def clean(raw: dict, dynasty: str, kind: str) -> Cleaned:
    """One raw poem → a record, or the reason it was dropped."""
    paragraphs = [p for p in raw.get("paragraphs") or [] if isinstance(p, str)]
    body = strip_invisible("\n".join(paragraphs)).strip()
    if not body:
        return Cleaned(None, dropped="empty")
    if _GAP.search(body):
        return Cleaned(None, dropped="missing_characters")
    repaired = []
    without_notes = _NOTE.sub("", body)
    if without_notes != body:
        repaired.append("editorial_notes")
    if any(bracket in without_notes for bracket in "（）()〔〕〖〗【】[]"):
        return Cleaned(None, dropped="unbalanced_brackets")
    text = to_simplified(_QUOTES.sub("", without_notes))
    if non_han(text):
        return Cleaned(None, dropped="mixed_script")
    lines = split_lines(text)
    if not lines:
        return Cleaned(None, dropped="empty")
    key = "".join(lines)
    if kind == "ci":
        tune = to_simplified(raw.get("rhythmic") or "").strip()
        form = f"ci:{tune}" if tune else "other"
    else:
        shape = form_for_shape([len(line) for line in lines])
        form = shape.name if shape else "other"
    poem_id = raw.get("id") or f"{kind}-" + hashlib.sha1(f"{raw.get('author')}|{key}".encode()).hexdigest()[:20]
    record = Record(
        id=str(poem_id),
        dynasty=dynasty,
        author=to_simplified((raw.get("author") or "").strip()) or "佚名",
        title=to_simplified((raw.get("title") or raw.get("rhythmic") or "").strip()),
        lines=lines,
        form=form,
        text="\n".join(line.strip() for line in text.splitlines() if line.strip()),
        split=split_of(key),
    )
    return Cleaned(record, key=key, repaired=repaired)


def _clean_file(job: tuple[str, str, str]) -> list[Cleaned]:
    path, dynasty, kind = job
    try:
        with open(path, encoding="utf-8") as handle:
            poems = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a chinese-poetry JSON file ({error}): unpack the package again") from None
    if not isinstance(poems, list) or not all(isinstance(raw, dict) for raw in poems):
        raise ValueError(
            f"{path} is not a chinese-poetry JSON file (expected a list of poems): unpack the package again"
        )
    return [clean(raw, dynasty, kind) for raw in poems]


def source_files(source: Path) -> list[tuple[str, str, str]]:
    jobs = []
    for pattern, dynasty, kind in SOURCES:
        jobs += [(str(path), dynasty, kind) for path in sorted(source.glob(pattern))]
    if not jobs:
        raise FileNotFoundError(
            f"no chinese-poetry files under {source}: pass the package's dist/ folder "
            "(it holds quantangshi/ and songci/)"
        )
    return jobs


@dataclass
class BuildSummary:
    records: int = 0
    by_form_split: dict[str, dict[str, int]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    couplets: int = 0
    seconds: float = 0.0

    def form_group(self, form: str) -> str:
        return form if form in JINTI_FORMS or form == "other" else "ci"

    @property
    def jinti(self) -> int:
        return sum(sum(self.by_form_split.get(f, {}).values()) for f in JINTI_FORMS)


def build(source: Path, out: Path, workers: int | None = None, progress: bool = True) -> BuildSummary:
    """Build the corpus from a chinese-poetry dist/ folder into `out` (replaced atomically). `out`
    must be new, empty or an earlier corpus: any other folder is refused, never replaced."""
    started = time.monotonic()
    _refuse_foreign_output(out)
    jobs = source_files(source)
    summary = BuildSummary()
    dropped: Counter[str] = Counter()
    repaired: Counter[str] = Counter()
    by_form: Counter[tuple[str, str]] = Counter()
    seen: set[str] = set()
    records: list[Record] = []
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_clean_file, jobs, chunksize=4)
        for cleaned_file in tqdm(results, total=len(jobs), desc="cleaning", unit="file", disable=not progress):
            for cleaned in cleaned_file:
                if cleaned.record is None:
                    dropped[cleaned.dropped] += 1
                    continue
                if cleaned.key in seen:
                    dropped["duplicate"] += 1
                    continue
                seen.add(cleaned.key)
                repaired.update(cleaned.repaired)
                records.append(cleaned.record)
                by_form[(summary.form_group(cleaned.record.form), cleaned.record.split)] += 1

    if not records:
        raise ValueError(f"no poems could be read under {source}: is it chinese-poetry's dist/ folder?")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".corpus-", dir=out.parent))
    staging.chmod(0o755)
    try:
        summary.couplets = _write_jsonl(staging, records)
        summary.lines = _write_sqlite(staging / "corpus.sqlite", records, progress)
        summary.records = len(records)
        summary.dropped = dict(dropped.most_common())
        summary.repaired = dict(repaired.most_common())
        for (form, split), count in sorted(by_form.items()):
            summary.by_form_split.setdefault(form, {})[split] = count
        summary.seconds = round(time.monotonic() - started, 1)
        (staging / "summary.json").write_text(json.dumps(asdict(summary), ensure_ascii=False, indent=2))
        _replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def _write_jsonl(folder: Path, records: list[Record]) -> int:
    couplets = 0
    with (
        open(folder / "poems.jsonl", "w", encoding="utf-8") as poems,
        open(folder / "couplets.jsonl", "w", encoding="utf-8") as pairs,
    ):
        for record in records:
            poems.write(record.to_json() + "\n")
            if record.form in ("wulv", "qilv"):
                for first in (2, 4):
                    pair = {
                        "poem_id": record.id,
                        "form": record.form,
                        "first": record.lines[first],
                        "second": record.lines[first + 1],
                        "split": record.split,
                    }
                    pairs.write(json.dumps(pair, ensure_ascii=False) + "\n")
                    couplets += 1
    return couplets


_SCHEMA = """
CREATE TABLE poems (id TEXT PRIMARY KEY, dynasty TEXT, author TEXT, title TEXT, form TEXT, split TEXT);
CREATE TABLE lines (id INTEGER PRIMARY KEY, text TEXT NOT NULL, poem_id TEXT NOT NULL, position INTEGER NOT NULL);
-- One token per character (space-separated), so a phrase query finds lines containing a string.
CREATE VIRTUAL TABLE line_chars USING fts5(chars, content='', tokenize='unicode61');
"""


def _write_sqlite(path: Path, records: list[Record], progress: bool) -> int:
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
    db.executemany(
        "INSERT INTO poems VALUES (?, ?, ?, ?, ?, ?)",
        ((r.id, r.dynasty, r.author, r.title, r.form, r.split) for r in records),
    )
    line_id = 0
    batch: list[tuple[int, str, str, int]] = []

    def flush() -> None:
        db.executemany("INSERT INTO lines VALUES (?, ?, ?, ?)", batch)
        db.executemany(
            "INSERT INTO line_chars (rowid, chars) VALUES (?, ?)", ((i, " ".join(t)) for i, t, _, _ in batch)
        )
        batch.clear()

    for record in tqdm(records, desc="indexing lines", unit="poem", disable=not progress):
        for position, line in enumerate(record.lines):
            line_id += 1
            batch.append((line_id, line, record.id, position))
        if len(batch) > 50_000:
            flush()
    flush()
    db.execute("CREATE INDEX lines_text ON lines(text)")
    count = db.execute("SELECT count(DISTINCT text) FROM lines").fetchone()[0]
    distinct = (text for (text,) in db.execute("SELECT DISTINCT text FROM lines"))
    CorpusLines.build(distinct, count).save(path.with_name(NOVELTY_FILTER))
    db.execute("INSERT INTO line_chars(line_chars) VALUES ('optimize')")
    db.commit()
    db.close()
    return line_id


def _refuse_foreign_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file: the corpus is a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / "summary.json").is_file():
        raise ValueError(f"{out} holds files that are not a corpus; it is not replaced: choose another --out")


def _replace_dir(staging: Path, out: Path) -> None:
    old = staging.with_name(staging.name + "-old")  # beside the unique staging folder: nobody else's name
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def fetch_package(spec: str, cache_dir: Path) -> Path:
    """`npm pack` the corpus package into the cache once; return its dist/ folder."""
    target = cache_dir / spec.replace("@", "-").replace("/", "_")
    dist = target / "package" / "dist"
    if dist.is_dir():
        return dist
    if spec.startswith("-"):  # npm would take it for an option
        raise RuntimeError(
            f"{spec!r} is not a package name: set LIANJU_CORPUS_PACKAGE to one such as chinese-poetry@2.0.1"
        )
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm is needed to fetch the corpus: install Node.js and npm, or pass --source DIR "
            "pointing at an unpacked chinese-poetry dist/ folder"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        done = subprocess.run(
            [npm, "pack", spec, "--loglevel", "error", "--pack-destination", tmp],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm pack {spec} failed: {done.stderr.strip()[-500:]}")
        tarball = next(Path(tmp).glob("*.tgz"), None)
        if tarball is None:
            raise RuntimeError(f"npm pack {spec} made no package: give a package such as chinese-poetry@2.0.1")
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="data")
        shutil.rmtree(target, ignore_errors=True)
        unpacked.rename(target)
    return dist


# ---------------------------------------------------------------------------------------------
# Reading the built corpus


@dataclass(frozen=True)
class LineHit:
    text: str
    poem_id: str
    position: int
    author: str
    title: str
    dynasty: str


class CorpusUnreadable(ValueError):
    """A corpus file that is there but is not what `lianju corpus build` writes (damaged, cut short)."""


class LineIndex:
    """Answers "is this line in the corpus?" and "which lines contain 月?" from corpus.sqlite."""

    def __init__(self, path: Path):
        if not path.is_file():
            raise FileNotFoundError(f"no line index at {path}: run `lianju corpus build` first")
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:  # each table once, now: a damaged file would otherwise fail in the middle of a game
            for table in ("lines", "poems", "line_chars"):
                self.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()
        except sqlite3.DatabaseError as error:
            self.db.close()
            raise CorpusUnreadable(f"{path} is not a line index ({error}): run `lianju corpus build` again") from None

    _SELECT = (
        "SELECT lines.text, lines.poem_id, lines.position, poems.author, poems.title, poems.dynasty "
        "FROM lines JOIN poems ON poems.id = lines.poem_id "
    )

    def find(self, line: str) -> list[LineHit]:
        """Every occurrence of exactly this line (any script, punctuation ignored)."""
        text = han_only(line)
        rows = self.db.execute(self._SELECT + "WHERE lines.text = ? ORDER BY lines.id", (text,))
        return [LineHit(*row) for row in rows]

    def __contains__(self, line: str) -> bool:
        return bool(self.find(line))

    def containing(self, chars: str, limit: int = 20) -> list[LineHit]:
        """Lines that contain `chars` as a substring, in corpus order."""
        text = han_only(chars)
        if not text:
            return []
        phrase = '"' + " ".join(text) + '"'
        rows = self.db.execute(
            self._SELECT + "WHERE lines.id IN (SELECT rowid FROM line_chars WHERE line_chars MATCH ?) "
            "ORDER BY lines.id LIMIT ?",
            (phrase, limit),
        )
        return [LineHit(*row) for row in rows]

    def close(self) -> None:
        self.db.close()


# ---------------------------------------------------------------------------------------------
# Cross-checking our tones against the corpus's own `strains` (平仄 per character)


@dataclass
class StrainsAgreement:
    poems: int = 0
    chars: int = 0  # character occurrences compared
    single: int = 0  # with one Pingshui tone
    single_agree: int = 0
    either: int = 0  # 多音: the book gives both tones (always agrees)
    fallback: int = 0  # tone from modern Mandarin
    fallback_agree: int = 0
    unknown: int = 0
    disagreements: Counter = field(default_factory=Counter)

    @property
    def agreement(self) -> float:
        return self.single_agree / self.single if self.single else 0.0

    @property
    def fallback_rate(self) -> float:
        return self.fallback / self.chars if self.chars else 0.0


def crosscheck_strains(source: Path, progress: bool = True) -> StrainsAgreement:
    """Compare engine.prosody's tone of every character with `strains/json` of the 诗 files."""
    from engine.prosody import char_tone

    result = StrainsAgreement()
    pairs = [
        (path, source / "strains" / "json" / path.name)
        for pattern, _, kind in SOURCES
        if kind == "shi"
        for path in sorted(source.glob(pattern))
    ]
    for poems_path, strains_path in tqdm(pairs, desc="cross-checking", unit="file", disable=not progress):
        if not strains_path.is_file():
            continue
        strains = {item["id"]: item["strains"] for item in json.loads(strains_path.read_text("utf-8"))}
        for raw in json.loads(poems_path.read_text("utf-8")):
            strain_text = "".join(strains.get(raw.get("id"), []))
            chars = [c for c in "".join(raw.get("paragraphs") or []) if is_han(c)]
            labels = [c for c in strain_text if c in "平仄"]
            if not labels or len(chars) != len(labels):
                continue  # unaligned: strains were made from another edition of the text
            result.poems += 1
            for char, label in zip(chars, labels):
                tone = char_tone(char)
                result.chars += 1
                if tone.source == "pingshui" and len(tone.tones) == 1:
                    result.single += 1
                    if label in tone.tones:
                        result.single_agree += 1
                    else:
                        result.disagreements[char] += 1
                elif tone.source == "pingshui":
                    result.either += 1
                elif tone.source == "modern":
                    result.fallback += 1
                    result.fallback_agree += label in tone.tones
                else:
                    result.unknown += 1
    if not result.chars:
        raise ValueError(
            f"no 诗 under {source} have tones (strains/json) to compare: pass chinese-poetry's dist/ folder"
        )
    return result
