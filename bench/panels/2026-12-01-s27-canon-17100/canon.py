import json,re,collections
import opencc
cc=opencc.OpenCC('t2s')
authors=collections.Counter()
for f in ['tangshisanbaishou','qianjiashi']:
    d=json.load(open('/tmp/ljdata/package/dist/mengxue/'+f+'.json'))
    for sec in d['content']:
        for p in sec['content']:
            a=re.sub(r'（.*?）','',p['author']).strip()
            authors[cc.convert(a)]+=1
print(len(authors), authors.most_common(40))
recs=[json.loads(l) for l in open('/tmp/ljdata/corpus/poems.jsonl')]
sel=[r for r in recs if r['author'] in authors and r['form'] in ('wujue','qijue','wulv','qilv') and r['split']=='train']
print('canon train jinti', len(sel), collections.Counter(r['author'] for r in sel).most_common(15))
json.dump(sorted(authors),open('/tmp/s27/canon_authors.json','w'),ensure_ascii=False)
