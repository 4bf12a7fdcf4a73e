"""Scratch: anneal the shipped model on the canonical poets' 近体 poems (authors of 唐诗三百首 and 千家诗)."""
import json, random, sys, collections
from pathlib import Path
sys.path.insert(0, '/work/main')
from engine.finetune import RatedPoem, finetune
cap = int(sys.argv[2]); lr = float(sys.argv[3]); epochs = int(sys.argv[4])
authors = set(json.load(open('/tmp/s27/canon_authors.json')))
recs = [json.loads(l) for l in open('/tmp/ljdata/corpus/poems.jsonl')]
sel = [r for r in recs if r['author'] in authors and r['form'] in ('wujue','qijue','wulv','qilv') and r['split'] == 'train']
rng = random.Random(0); rng.shuffle(sel)
per = collections.Counter(); kept = []
for r in sel:
    if per[r['author']] < cap:
        per[r['author']] += 1; kept.append(r)
print('poems', len(kept), file=sys.stderr)
poems = [RatedPoem(id=i, lines=r['lines'], form=r['form'], title=r['title'], ratings={}) for i, r in enumerate(kept)]
print(finetune(Path('engine/weights/default'), Path(sys.argv[1]), poems, Path('/tmp/ljdata/corpus'), epochs=epochs, lr=lr, corpus_ratio=0))
