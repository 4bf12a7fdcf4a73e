import asyncio, sys, time, statistics
sys.path.insert(0,'/work/main'); sys.path.insert(1,'/work/main/bench')
import engine.poet as P
from dev_poems import load_poet
THEMES = "月春秋山水风花雪江云夜雨柳梅酒归雁舟松竹楼城草霜烟灯笛钟桥"
VARIANTS = {"shipped": dict(QILV_CANDIDATES=5, LUSHI_REWRITTEN_TAIL=4, LUSHI_REWRITES=1),
            "search": dict(QILV_CANDIDATES=8, LUSHI_REWRITTEN_TAIL=6, LUSHI_REWRITES=2)}
for extra in sys.argv[2:]:
    name, spec = extra.split("=", 1)
    VARIANTS[name] = {k: (float(v) if "." in v else int(v)) for k, v in (kv.split(":") for kv in spec.split(","))}
async def main():
    poet = load_poet("engine/weights/default")
    times = {k: [] for k in VARIANTS}
    await poet.compose("月", form="qilv", seed=999)  # warm-up
    for i in range(int(sys.argv[1])):
        for name, consts in VARIANTS.items():
            for k, v in consts.items(): setattr(P, k, v)
            t = time.perf_counter(); await poet.compose(THEMES[i % len(THEMES)], form="qilv", seed=i); times[name].append(time.perf_counter() - t)
    for name, ts in times.items(): print(name, "median %.3f s  mean %.3f" % (statistics.median(ts), statistics.mean(ts)))
    await poet.close()
asyncio.run(main())
