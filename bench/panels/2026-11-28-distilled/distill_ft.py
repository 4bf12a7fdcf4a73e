import json, sys
from pathlib import Path
sys.path.insert(0, '/work/main')
from engine.finetune import RatedPoem, finetune
poems = [json.loads(l) for l in open(sys.argv[1], encoding='utf-8')][: int(sys.argv[3])]
feedback = [RatedPoem(i, p['lines'], p['form'], p['theme'], {}) for i, p in enumerate(poems)]
print(finetune(Path('/work/main/engine/weights/default'), Path(sys.argv[2]), feedback, Path('/tmp/ljdata/corpus')))
