"""The training data of the one-shot GPU run (engine.oneshot), packed small enough to travel.

    python -m engine.pack --corpus $LIANJU_DATA_DIR/corpus --out build/oneshot

The GPU machine has no network and no corpus, and everything sent to it (code, data, wheels)
must fit 64 MiB. So this writes only what training needs, compressed (about 26 MB in all):

    poems.jsonl.xz      the train and val 近体 poems: {split, form, title, lines}
    extra.jsonl.xz      the train poems of other forms, extra text for the model (engine.prompts
                        extra_text_examples): {form: other or ci, lines}, no titles (the bytes go to text)
    heldout.jsonl.xz    the frozen held-out test poems (engine/heldout_test_ids.txt): {id, form, lines}
    lexicon.json.gz     the corpus's lexicon (engine.lexicon), for the plans in the prompts; left out
                        when its idf is that of the shipped engine/weights/lexicon.json.gz, which travels
    tokenizer/          the tokenizer of the model to warm-start from, with any special token it lacks
    manifest.json       counts, sizes and where it all came from

Text, not token ids: the prompts (keywords, plans, next lines) are drawn afresh each epoch by
engine.prompts.training_examples, exactly as the CPU training does, so the GPU run builds its
examples there from these records. Two things are left out to stay in budget: the poems' ids
(random UUIDs, 3.5 MB that compress to nothing, and training never reads them), and the couplets,
which engine.corpus takes from the poems themselves (lines 3-4 and 5-6 of every 律诗), so
`couplets_from` makes them again on the GPU machine. The lexicon travels only when the plans would
differ: training reads its idf alone (Lexicon.line_keywords), so the shipped one serves whenever the
corpus's idf is the same.
"""

from __future__ import annotations

import argparse
import json
import lzma
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.forms import JINTI_FORMS
from engine.lexicon import SHIPPED_LEXICON, Lexicon
from engine.tokenizer import add_missing_special_tokens, load_tokenizer

DEFAULT_INIT = Path(__file__).with_name("weights") / "default"
HELDOUT_IDS = Path(__file__).with_name("heldout_test_ids.txt")
POEMS, EXTRA, HELDOUT, LEXICON, TOKENIZER, MANIFEST = (
    "poems.jsonl.xz",
    "extra.jsonl.xz",
    "heldout.jsonl.xz",
    "lexicon.json.gz",
    "tokenizer",
    "manifest.json",
)
# The packed data's budget: the code, the shipped weights (31 MiB) and the wheels (7 MiB) share the 64 MiB
TARGET_MB = 28.0


def _read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def write_xz_jsonl(path: Path, rows: Iterable[dict]) -> int:
    """Rows as xz-compressed JSON lines (preset 9: the 2-minute compression pays in bytes sent)."""
    count = 0
    with lzma.open(path, "wt", encoding="utf-8", preset=9) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def read_xz_jsonl(path: Path) -> list[dict]:
    with lzma.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def pack(
    corpus: Path,
    out: Path,
    init_from: Path = DEFAULT_INIT,
    heldout_ids: Path = HELDOUT_IDS,
    target_mb: float = TARGET_MB,
    extra_text: bool = True,
) -> dict:
    """Write the packed data into `out` (emptied first); returns the manifest."""
    from engine.train import extra_text_records, load_lexicon  # the lexicon is mined beside the corpus when missing

    if not (corpus / "poems.jsonl").is_file():
        raise FileNotFoundError(f"no poems.jsonl in {corpus}: run `lianju corpus build` first")
    started = time.monotonic()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    frozen = set(heldout_ids.read_text().split()) if heldout_ids.is_file() else set()
    poems, others, chosen, test = [], [], [], []
    for record in _read_jsonl(corpus / "poems.jsonl"):
        if record["form"] not in JINTI_FORMS:
            others.append(record)
            continue
        if record["split"] in ("train", "val"):
            poems.append({k: record[k] for k in ("split", "form", "title", "lines")})
        if record["id"] in frozen:
            chosen.append({k: record[k] for k in ("id", "form", "lines")})
        elif record["split"] == "test":
            test.append({k: record[k] for k in ("id", "form", "lines")})
    # as engine.evaluate.heldout_records: the frozen ids, or the test split when none of them is here
    heldout = chosen or test
    if not any(p["split"] == "train" for p in poems):
        raise ValueError(f"no 近体 poems in the train split of {corpus}: build the corpus first")
    counts = {
        "poems": write_xz_jsonl(out / POEMS, poems),
        "couplets": len(couplets_from(poems)),
        "extra": write_xz_jsonl(out / EXTRA, extra_text_records(others) if extra_text else []),
        "heldout": write_xz_jsonl(out / HELDOUT, heldout),
    }
    shipped = SHIPPED_LEXICON.is_file() and load_lexicon(corpus).idf == Lexicon.load(SHIPPED_LEXICON).idf
    if not shipped:
        shutil.copyfile(corpus / LEXICON, out / LEXICON)
    tokenizer = load_tokenizer(init_from)
    added = add_missing_special_tokens(tokenizer)
    tokenizer.save_pretrained(out / TOKENIZER)

    sizes = {path.relative_to(out).as_posix(): path.stat().st_size for path in sorted(out.rglob("*")) if path.is_file()}
    total_mb = sum(sizes.values()) / 1e6
    manifest = {
        "corpus": str(corpus),
        "init_from": str(init_from),
        "counts": counts,
        "train_poems": sum(p["split"] == "train" for p in poems),
        "heldout_source": f"frozen ids ({heldout_ids.name})" if chosen else "test split",
        "lexicon": "the shipped engine/weights/lexicon.json.gz (the same idf)" if shipped else LEXICON,
        "tokenizer_vocab": len(tokenizer),
        "special_tokens_added": added,
        "bytes": sizes,
        "total_mb": round(total_mb, 2),
        "seconds": round(time.monotonic() - started, 1),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    if total_mb > target_mb:
        raise ValueError(
            f"the packed data is {total_mb:.1f} MB, over the {target_mb} MB budget: "
            "pack with --no-extra-text, or raise --target-mb if the 64 MiB sent to the GPU still fits"
        )
    return manifest


def couplets_from(poems: Iterable[dict]) -> list[dict]:
    """The couplets of engine.corpus: lines 3-4 and 5-6 of every 律诗, {split, first, second}."""
    return [
        {"split": poem["split"], "first": poem["lines"][first], "second": poem["lines"][first + 1]}
        for poem in poems
        if poem["form"] in ("wulv", "qilv")
        for first in (2, 4)
    ]


@dataclass
class PackedData:
    """What engine.oneshot trains and measures with, as loaded from a pack folder."""

    poems: dict[str, list[dict]]  # split (train, val) → 近体 poem records
    extra: list[dict]  # train poems of other forms: {form, lines}
    couplets: dict[str, list[dict]]  # split → couplets
    heldout: list[dict]  # the frozen held-out test poems
    lexicon: Lexicon
    tokenizer_dir: Path


def load_packed(folder: Path) -> PackedData:
    if not (folder / MANIFEST).is_file():
        raise FileNotFoundError(
            f"no packed data in {folder}: run `python -m engine.pack --corpus DIR --out {folder}`"
            " (scripts/prepare-oneshot.sh) and carry the folder along"
        )
    records = read_xz_jsonl(folder / POEMS)
    poems = {split: [r for r in records if r["split"] == split] for split in ("train", "val")}
    couplets = {split: couplets_from(poems[split]) for split in poems}
    lexicon = Lexicon.load(folder / LEXICON if (folder / LEXICON).is_file() else SHIPPED_LEXICON)
    extra = read_xz_jsonl(folder / EXTRA) if (folder / EXTRA).is_file() else []
    return PackedData(poems, extra, couplets, read_xz_jsonl(folder / HELDOUT), lexicon, folder / TOKENIZER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="a folder written by `lianju corpus build`")
    parser.add_argument("--out", type=Path, default=Path("build/oneshot"))
    parser.add_argument("--init-from", type=Path, default=DEFAULT_INIT, help="the model whose tokenizer is packed")
    parser.add_argument("--target-mb", type=float, default=TARGET_MB)
    parser.add_argument(
        "--extra-text", action=argparse.BooleanOptionalAction, default=True, help="pack the poems of other forms"
    )
    args = parser.parse_args()
    manifest = pack(args.corpus, args.out, args.init_from, target_mb=args.target_mb, extra_text=args.extra_text)
    print(json.dumps(manifest, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
