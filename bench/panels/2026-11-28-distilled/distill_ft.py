"""Fine-tune the shipped model on the poems distill_gen.py wrote, as engine.finetune does with rated poems.

distill_ft.py POEMS OUT COUNT      # the first COUNT poems of POEMS; the corpus: $LIANJU_DATA_DIR/corpus
"""

import json
import sys
from pathlib import Path

from bot.config import SHIPPED_MODEL, get_settings
from engine.finetune import RatedPoem, finetune

poems = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")][: int(sys.argv[3])]
feedback = [RatedPoem(i, poem["lines"], poem["form"], poem["theme"], {}) for i, poem in enumerate(poems)]
print(finetune(SHIPPED_MODEL, Path(sys.argv[2]), feedback, get_settings().corpus_dir))
