import collections
import json
import random

key = json.load(open("bench/panels/2026-11-30-s23-human-A/key.json"))["poems"]
used = {"".join(v["lines"]) for v in key.values()}
slots = [(v["theme"], v["form"]) for v in key.values() if v["source"] == "ours"]
pool = collections.defaultdict(list)
themes = {t for t, _ in slots}
for line in open("/tmp/ljdata/corpus/poems.jsonl", encoding="utf-8"):
    r = json.loads(line)
    if r["split"] not in ("val", "test") or "".join(r["lines"]) in used:
        continue
    for t in themes:
        if t in r["title"]:
            pool[(t, r["form"])].append(r["lines"])
rng = random.Random(23)
out = open("/tmp/s23/ab/sheet48-F.jsonl", "w")
for t, f in slots:
    poems = pool[(t, f)] if len(pool[(t, f)]) >= 8 else [p for (tt, ff), ps in pool.items() if ff == f for p in ps]
    n = len(poems[0])
    donors = rng.sample(poems, min(n, len(poems)))
    lines = [donors[i % len(donors)][i] for i in range(n)]
    out.write(
        json.dumps(
            {"lines": lines, "form": f, "theme": t, "params": {"theme": t}, "model_version": "franken", "seed": 0},
            ensure_ascii=False,
        )
        + "\n"
    )
print(len(slots), {k: len(v) for k, v in list(pool.items())[:6]})
