"""Sheets of pairs for readers: two different candidates of one request per pair, from requests no
earlier sheet of this folder used.

    make_sheets.py CANDIDATES NAME[,NAME…] PAIRS SEED   # writes NAME/pairs.md (for the rater) and NAME/pairs_key.json
"""

import json
import random
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
sys.path.append(str(FOLDER.parents[1]))  # bench/
from ab_panel import INSTRUCTIONS  # noqa: E402
from panel import poem_text  # noqa: E402

candidates_file, names, per_sheet, seed = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
rows = [json.loads(line) for line in open(candidates_file, encoding="utf-8")]
requests = [rows[i : i + 8] for i in range(0, len(rows), 8)]
used = {
    tuple(pair[side])
    for key in FOLDER.glob("*/pairs_key.json")
    for pair in json.loads(key.read_text(encoding="utf-8")).values()
    for side in ("1", "2")
}
requests = [request for request in requests if not any(tuple(c["lines"]) in used for c in request)]
rng = random.Random(seed)
rng.shuffle(requests)
for name in names:
    blocks, key = [], {}
    while len(key) < per_sheet:
        distinct = list({tuple(c["lines"]): c for c in requests.pop()}.values())
        if len(distinct) < 2:
            continue
        first, second = rng.sample(distinct, 2)
        pair_id = f"Q{len(key) + 1:03d}"
        blocks.append(
            f"- {pair_id}　题：{first['theme']}\n  1. {poem_text(first['lines'])}\n  2. {poem_text(second['lines'])}"
        )
        key[pair_id] = {"1": first["lines"], "2": second["lines"], "theme": first["theme"], "form": first["form"]}
    (FOLDER / name).mkdir()
    (FOLDER / name / "pairs.md").write_text(f"{INSTRUCTIONS}\n" + "\n".join(blocks) + "\n", encoding="utf-8")
    (FOLDER / name / "pairs_key.json").write_text(json.dumps(key, ensure_ascii=False) + "\n", encoding="utf-8")
print(f"{len(names)} sheets of {per_sheet} pairs; {len(requests)} unused requests left")
