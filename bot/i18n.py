"""Every string people read, in one place: zh-CN, zh-TW and English.

Messages are written in simplified Chinese and English; zh-TW is the simplified text converted
with OpenCC s2twp (Taiwan's words: 伺服器, 設定, 預設) unless an entry spells it out.
`text(key, locale, **values)` formats a reply. The command names and descriptions are here too;
bot.discord.i18n hands them to Discord.
"""

from __future__ import annotations

from engine.text import to_taiwan, to_traditional

ZH_CN, ZH_TW, EN = "zh-CN", "zh-TW", "en"
LOCALES = (ZH_CN, ZH_TW, EN)

# key → {"zh": simplified Chinese, "en": English, optionally "zh-TW": a hand-written override}
MESSAGES: dict[str, dict[str, str]] = {
    # --- command names and descriptions (names: lowercase, no spaces, at most 32 characters)
    "cmd.poem": {"zh": "作诗", "en": "poem"},
    "cmd.poem.desc": {
        "zh": "以一个主题作一首合格律的近体诗",
        "en": "Write a classical Chinese poem that scans, on a theme",
    },
    "opt.theme": {"zh": "主题", "en": "theme"},
    "opt.theme.desc": {
        "zh": "诗的主题，如 月、春江（给了起句可不填）",
        "en": "What the poem is about, e.g. 月 (moon) or 春江 (optional with a first line)",
    },
    "opt.form": {"zh": "体裁", "en": "form"},
    "opt.form.desc": {"zh": "五绝、七绝、五律、七律，或自动", "en": "五绝, 七绝, 五律, 七律, or auto"},
    "opt.acrostic": {"zh": "藏头", "en": "acrostic"},
    "opt.acrostic.desc": {
        "zh": "藏头诗：每句的第一个字（4 或 8 个字）",
        "en": "藏头: the first character of every line (4 or 8)",
    },
    "opt.temperature": {"zh": "温度", "en": "temperature"},
    "opt.temperature.desc": {
        "zh": "用字的大胆程度，0.1–1.5，默认 0.9",
        "en": "How bold the wording is, 0.1–1.5 (default 0.9)",
    },
    "opt.poem_opening": {"zh": "起句", "en": "first_line"},
    "opt.poem_opening.desc": {
        "zh": "诗的第一句（五言或七言），其余依它的平仄与韵续写",
        "en": "The poem's first line (5 or 7 characters); the rest follows its tones and rhyme",
    },
    "cmd.check": {"zh": "格律", "en": "check"},
    "cmd.check.desc": {
        "zh": "检查一首近体诗的格律：平仄、押韵、粘对",
        "en": "Check a regulated poem's tones, rhyme and 粘对",
    },
    "opt.poem": {"zh": "诗", "en": "poem"},
    "opt.poem.desc": {"zh": "整首诗，句间用标点隔开", "en": "The whole poem, lines separated by punctuation"},
    "cmd.help": {"zh": "帮助", "en": "help"},
    "cmd.help.desc": {"zh": "联句的所有命令", "en": "Every command of Lianju"},
    "form.auto": {"zh": "自动", "en": "auto"},
    "form.wujue": {"zh": "五绝（五言绝句）", "en": "五绝 five-character quatrain"},
    "form.qijue": {"zh": "七绝（七言绝句）", "en": "七绝 seven-character quatrain"},
    "form.wulv": {"zh": "五律（五言律诗）", "en": "五律 five-character regulated verse"},
    "form.qilv": {"zh": "七律（七言律诗）", "en": "七律 seven-character regulated verse"},
    "cmd.top": {"zh": "佳作", "en": "top"},
    "cmd.top.desc": {"zh": "本服务器评分最高的诗", "en": "The best-rated poems of this server"},
    "opt.period": {"zh": "时段", "en": "period"},
    "opt.period.desc": {"zh": "本周、本月或全部", "en": "This week, this month or all time"},
    "period.week": {"zh": "本周", "en": "this week"},
    "period.month": {"zh": "本月", "en": "this month"},
    "period.all": {"zh": "全部", "en": "all time"},
    "cmd.mypoems": {"zh": "我的诗", "en": "mypoems"},
    "cmd.mypoems.desc": {"zh": "你请作的诗，最新的在前", "en": "The poems you asked for, newest first"},
    "cmd.script": {"zh": "字体", "en": "script"},
    "cmd.script.desc": {"zh": "诗用简体还是繁体显示", "en": "Show poems in simplified or traditional characters"},
    "opt.style": {"zh": "字体", "en": "style"},
    "opt.style.desc": {"zh": "简体或繁体", "en": "Simplified or traditional"},
    "opt.server": {"zh": "全服", "en": "server"},
    "opt.server.desc": {
        "zh": "设为整个服务器的默认（需要“管理服务器”权限）",
        "en": "Make it the server's default (needs Manage Server)",
    },
    "style.simplified": {"zh": "简体", "en": "simplified (简体)"},
    "style.traditional": {"zh": "繁体", "zh-TW": "繁體", "en": "traditional (繁體)"},
    "cmd.daily": {"zh": "每日一诗", "en": "daily"},
    "cmd.daily.desc": {"zh": "每日一诗的设置", "en": "The daily poem"},
    "cmd.daily.set": {"zh": "设置", "en": "set"},
    "cmd.daily.set.desc": {"zh": "每天在某频道的某时发一首诗", "en": "Post a poem every day in a channel at a time"},
    "cmd.daily.off": {"zh": "关闭", "en": "off"},
    "cmd.daily.off.desc": {"zh": "不再发每日一诗", "en": "Stop the daily poem"},
    "opt.channel": {"zh": "频道", "en": "channel"},
    "opt.channel.desc": {"zh": "发诗的频道", "en": "Where the poem is posted"},
    "opt.time": {"zh": "时间", "en": "time"},
    "opt.time.desc": {
        "zh": "当地时间，如 08:00；不填则不变（起初 08:00）",
        "en": "Local time of day, e.g. 08:00; unset: unchanged (08:00 at first)",
    },
    "opt.timezone": {"zh": "时区", "en": "timezone"},
    "opt.timezone.desc": {
        "zh": "IANA 时区，如 Asia/Shanghai；不填则不变（起初 Asia/Shanghai）",
        "en": "IANA time zone, e.g. Asia/Shanghai; unset: unchanged (Asia/Shanghai at first)",
    },
    "cmd.model": {"zh": "模型", "en": "model"},
    "cmd.model.desc": {"zh": "作诗的模型", "en": "The poetry model"},
    "cmd.model.info": {"zh": "信息", "en": "info"},
    "cmd.model.info.desc": {"zh": "当前模型的版本与指标", "en": "The active model's version and metrics"},
    "cmd.model.rollback": {"zh": "回滚", "en": "rollback"},
    "cmd.model.rollback.desc": {
        "zh": "回到上一个模型（仅限机器人主人：所有服务器共用一个模型）",
        "en": "Go back to the previous model (the bot's owner only: every server shares it)",
    },
    "cmd.model.finetune": {"zh": "微调", "en": "finetune"},
    "cmd.model.finetune.desc": {
        "zh": "用评分高的诗微调模型，通过关卡才上线（仅限机器人主人）",
        "en": "Fine-tune on highly rated poems; only a model that passes the gates goes live (owner)",
    },
    "cmd.lianju": {"zh": "机器人", "en": "lianju"},
    "cmd.lianju.desc": {"zh": "机器人管理", "en": "Bot administration"},
    "cmd.lianju.sync": {"zh": "同步", "en": "sync"},
    "cmd.lianju.sync.desc": {
        "zh": "把斜杠命令同步到 Discord（仅限机器人主人）",
        "en": "Sync the slash commands to Discord (bot owner only)",
    },
    "cmd.game.join": {"zh": "加入", "en": "join"},
    "cmd.game.join.desc": {
        "zh": "加入本频道的游戏，按加入顺序轮流",
        "en": "Join this channel's game; turns go in join order",
    },
    "cmd.game.line": {"zh": "出句", "en": "line"},
    "cmd.game.line.desc": {
        "zh": "写下你的这一句（轮流的游戏要等轮到你）",
        "en": "Your line (on your turn, in a game of turns)",
    },
    "cmd.game.status": {"zh": "状态", "en": "status"},
    "cmd.game.status.desc": {"zh": "本频道游戏的进度", "en": "Where this channel's game stands"},
    "cmd.game.stop": {"zh": "结束", "en": "stop"},
    "cmd.game.stop.desc": {"zh": "结束游戏（发起人或管理员）", "en": "Stop the game (its starter or a moderator)"},
    "cmd.chain": {"zh": "联句", "en": "chain"},
    "cmd.chain.desc": {
        "zh": "联句：大家轮流各写一句，合成一首诗",
        "en": "联句: take turns writing the lines of one poem",
    },
    "cmd.chain.start": {"zh": "开始", "en": "start"},
    "cmd.chain.start.desc": {"zh": "在本频道开始一局联句", "en": "Start a 联句 in this channel"},
    "cmd.chain.pass": {"zh": "过", "en": "pass"},
    "cmd.chain.pass.desc": {"zh": "这一轮不写，让给下一位", "en": "Skip your turn"},
    "opt.chain_form.desc": {
        "zh": "五绝、七绝、五律、七律，或五言/七言开放联句",
        "en": "五绝, 七绝, 五律, 七律, or an open chain of 5- or 7-character lines",
    },
    "form.open5": {"zh": "五言开放联句", "en": "open chain, 5-character lines"},
    "form.open7": {"zh": "七言开放联句", "en": "open chain, 7-character lines"},
    "opt.lines": {"zh": "句数", "en": "lines"},
    "opt.lines.desc": {
        "zh": "开放联句的句数（4 到 32 之间的偶数，默认 8）",
        "en": "Lines of an open chain (even, 4 to 32; default 8)",
    },
    "opt.strictness": {"zh": "宽严", "en": "strictness"},
    "opt.strictness.desc": {
        "zh": "宽：字数与押韵；严：另查平仄与粘对",
        "en": "宽: length and rhyme; 严: also 平仄 and 粘对",
    },
    "strictness.lenient": {"zh": "宽（字数、押韵）", "en": "宽 lenient (length, rhyme)"},
    "strictness.strict": {"zh": "严（另查平仄、粘对）", "en": "严 strict (also 平仄, 粘对)"},
    "opt.turn_seconds": {"zh": "每轮秒数", "en": "turn_seconds"},
    "opt.turn_seconds.desc": {
        "zh": "每一轮的时限（秒）；不填就用本服务器的设置",
        "en": "Time limit of a turn, in seconds; unset: the server's setting",
    },
    "opt.bot_plays": {"zh": "机器人参加", "en": "bot_plays"},
    "opt.bot_plays.desc": {
        "zh": "机器人也轮流写句，并替超时者写",
        "en": "The bot takes turns too, and writes for players who time out",
    },
    "opt.opening": {"zh": "起句", "en": "opening"},
    "opt.opening.desc": {"zh": "你写的第一句；不写则机器人起句", "en": "Your first line; without one the bot opens"},
    "opt.chain_theme.desc": {"zh": "机器人起句时的主题", "en": "A theme for the bot's opening line"},
    "opt.line": {"zh": "诗句", "en": "line"},
    "opt.line.desc": {"zh": "你的这一句", "en": "Your line"},
    "cmd.feihua": {"zh": "飞花令", "en": "feihua"},
    "cmd.feihua.desc": {
        "zh": "飞花令：轮流背出含令字的诗句",
        "en": "飞花令: take turns reciting real lines with the key character",
    },
    "cmd.feihua.start": {"zh": "开始", "en": "start"},
    "cmd.feihua.start.desc": {"zh": "以一个令字开始飞花令", "en": "Start a 飞花令 on a key character"},
    # A game's own word for a shared cmd.game.* name (bot.discord.i18n looks for cmd.<game>.* first): 接令 is
    # 飞花令's, 对句 answers a 对对联's 出句, and 联句 players 写句 as before.
    "cmd.feihua.line": {"zh": "接令", "en": "line"},
    "cmd.duilian.line": {"zh": "对句", "en": "line"},
    "cmd.duilian.join.desc": {
        "zh": "加入本频道的对对联（不加入也可以直接对句）",
        "en": "Join this channel's 对对联 (anyone may answer without joining)",
    },
    "cmd.chain.line": {"zh": "写句", "en": "line"},
    "opt.feihua_bot_plays.desc": {"zh": "机器人也轮流背诗", "en": "The bot takes turns reciting too"},
    "opt.key": {"zh": "令字", "en": "key"},
    "opt.key.desc": {"zh": "一个汉字，如 花、月", "en": "One Chinese character, such as 花 or 月"},
    "opt.strength": {"zh": "机器人水平", "en": "strength"},
    "opt.strength.desc": {"zh": "机器人背诗的本事", "en": "How well the bot remembers poems"},
    "strength.weak": {"zh": "弱", "en": "weak"},
    "strength.medium": {"zh": "中", "en": "medium"},
    "strength.strong": {"zh": "强", "en": "strong"},
    "cmd.duilian": {"zh": "对对联", "en": "duilian"},
    "cmd.duilian.desc": {
        "zh": "对对联：机器人出上联大家对，或对你的上联",
        "en": "对对联: answer the bot's first line, or have it answer yours",
    },
    "cmd.duilian.start": {"zh": "出题", "en": "start"},
    "cmd.duilian.start.desc": {
        "zh": "机器人出上联，大家在时限内对下联",
        "en": "The bot gives a first line; everyone answers in time",
    },
    "cmd.duilian.ask": {"zh": "请对", "en": "ask"},
    "cmd.duilian.ask.desc": {
        "zh": "给出你的上联，机器人对下联",
        "en": "Give your first line; the bot writes the second",
    },
    "opt.first_line": {"zh": "上联", "en": "first_line"},
    "opt.first_line.desc": {"zh": "你的上联，机器人来对下联", "en": "Your first line; the bot writes the second"},
    "cmd.settings": {"zh": "设置", "zh-TW": "設定", "en": "settings"},
    "cmd.settings.desc": {
        "zh": "本服务器的机器人设置",
        "zh-TW": "本伺服器的機器人設定",
        "en": "The bot's settings for this server",
    },
    "cmd.settings.show": {"zh": "查看", "en": "show"},
    "cmd.settings.show.desc": {
        "zh": "本服务器现在的设置",
        "zh-TW": "本伺服器現在的設定",
        "en": "This server's settings",
    },
    "cmd.settings.turn": {"zh": "每轮秒数", "en": "turn"},
    "cmd.settings.turn.desc": {"zh": "一种游戏每一轮的时限", "en": "The time limit of a game's turns"},
    "cmd.settings.form": {"zh": "默认体裁", "zh-TW": "預設體裁", "en": "form"},
    "cmd.settings.form.desc": {"zh": "/作诗 不指定体裁时用的体裁", "en": "The form /poem writes when none is given"},
    "cmd.settings.language": {"zh": "语言", "en": "language"},
    "cmd.settings.language.desc": {
        "zh": "机器人在频道中发言（提醒、超时、诗成）用的语言",
        "en": "The language of the bot's channel posts (reminders, timeouts, finished poems)",
    },
    "cmd.settings.card": {"zh": "诗卡", "en": "card"},
    "cmd.settings.card.desc": {"zh": "诗是否附上诗卡图片", "en": "Whether poems come with the poem card image"},
    "opt.game": {"zh": "游戏", "en": "game"},
    "opt.game.desc": {"zh": "联句、飞花令或对对联", "en": "联句, 飞花令 or 对对联"},
    "opt.seconds": {"zh": "秒数", "en": "seconds"},
    "opt.seconds.desc": {"zh": "每一轮的秒数，5–3600", "en": "Seconds per turn, 5–3600"},
    "opt.language": {"zh": "语言", "en": "language"},
    "opt.language.desc": {
        "zh": "简体中文、繁体中文、英文，或跟随玩家",
        "en": "Chinese (simplified or traditional), English, or follow the players",
    },
    "opt.on": {"zh": "开启", "en": "on"},
    "opt.on.desc": {"zh": "开启或关闭", "en": "On or off"},
    "game.chain": {"zh": "联句", "en": "联句 (chain)"},
    "game.feihua": {"zh": "飞花令", "en": "飞花令 (feihua)"},
    "game.duilian": {"zh": "对对联", "en": "对对联 (couplets)"},
    "language.zh-CN": {"zh": "简体中文", "en": "Chinese (simplified)"},
    "language.zh-TW": {"zh": "繁体中文", "zh-TW": "繁體中文", "en": "Chinese (traditional)"},
    "language.en": {"zh": "英文", "en": "English"},
    "language.players": {
        "zh": "跟随玩家（频道中最后一位玩家的语言）",
        "en": "Follow the players (the language of each channel's last player)",
    },
    # --- replies
    "check.title": {"zh": "格律检查", "en": "Prosody check"},
    "check.pattern": {"zh": "格式", "en": "Pattern"},
    "check.tone_score": {"zh": "平仄相合", "en": "Tones that fit"},
    "check.verdict": {
        "zh": "形状 {shape}　押韵 {rhyme}　平仄 {tones}（计拗救 {lenient}）",
        "en": "shape {shape}  rhyme {rhyme}  tones {tones} (with 拗救 {lenient})",
    },
    "check.rhyme_break": {"zh": "←韵", "en": "← rhyme"},
    "check.legend": {
        "zh": "每句：诗句｜实际平仄｜格律要求。加粗：与格律不合；中：可平可仄；？：平水韵未收。",
        "en": "Each line: the line | its tones | what the pattern asks. Bold: against the pattern; "
        "中: either tone; ？: not in the rhyme book.",
    },
    "check.reasons": {"zh": "问题", "en": "Reasons"},
    "check.no_reasons": {"zh": "合律，没有问题。", "en": "It scans: nothing to report."},
    "check.more": {"zh": "……另有 {count} 条", "en": "… and {count} more"},
    "check.fallback": {"zh": "以今音定平仄的字：{chars}", "en": "Tones from modern Mandarin for: {chars}"},
    "help.title": {"zh": "联句的命令", "en": "Lianju's commands"},
    "help.footer": {
        "zh": "在 Discord 输入 / 和命令名可看它的选项。",
        "en": "Type / and a command's name in Discord to see its options.",
    },
    "poem.form": {"zh": "体裁", "en": "Form"},
    "poem.rhyme": {"zh": "韵部", "en": "Rhyme group"},
    "poem.footer": {"zh": "模型 {model} · 第 {poem_id} 首", "en": "model {model} · poem #{poem_id}"},
    "poem.rated": {"zh": "{count} 人评分 · 平均 {mean} ★", "en": "ratings: {count} · mean {mean} ★"},
    "poem.unrated": {"zh": "尚无评分", "en": "no ratings yet"},
    "poem.daily_title": {"zh": "每日一诗 · {occasion}", "en": "Poem of the day · {occasion}"},
    "rating.thanks": {"zh": "你给第 {poem_id} 首评了 {stars} ★。", "en": "You gave poem #{poem_id} {stars} ★."},
    "rating.unknown_poem": {
        "zh": "找不到这首诗了（第 {poem_id} 首）。",
        "en": "This poem (#{poem_id}) no longer exists.",
    },
    "rating.bad_stars": {"zh": "星数须在 {low} 到 {high} 之间。", "en": "Stars must be from {low} to {high}."},
    "top.title": {"zh": "佳作 · {period}", "en": "Top poems · {period}"},
    "top.empty": {"zh": "{period}：还没有评过分的诗。", "en": "No rated poems yet ({period})."},
    "top.entry": {
        "zh": "{rank}. 《{title}》 {mean} ★（{count} 人）",
        "en": "{rank}. 《{title}》 {mean} ★ (ratings: {count})",
    },
    "top.authors": {"zh": "联句：{authors}", "en": "written by {authors}"},
    "mypoems.title": {"zh": "你的诗", "en": "Your poems"},
    "mypoems.empty": {"zh": "你还没有请我作过诗。试试 /作诗。", "en": "You have not asked for a poem yet. Try /poem."},
    "mypoems.entry": {"zh": "#{poem_id} 《{title}》 {first_line}……", "en": "#{poem_id} 《{title}》 {first_line}…"},
    "script.set_user": {"zh": "以后给你看的诗用{style}。", "en": "Poems will be shown to you in {style}."},
    "script.set_guild": {"zh": "本服务器的诗以后用{style}。", "en": "This server's poems will be shown in {style}."},
    "daily.set": {
        "zh": "每日一诗：每天 {time}（{timezone}）发在 <#{channel_id}>。",
        "en": "Daily poem: every day at {time} ({timezone}) in <#{channel_id}>.",
    },
    "daily.off": {"zh": "每日一诗已关闭。", "en": "The daily poem is off."},
    "daily.bad_time": {
        "zh": "时间「{value}」看不懂：请写成 08:00 这样的 24 小时制。",
        "en": "Cannot read the time 「{value}」: write it as 08:00 (24-hour clock).",
    },
    "daily.bad_timezone": {
        "zh": "不认识时区「{value}」：请用 IANA 时区名，如 Asia/Shanghai、Asia/Taipei、Europe/London。",
        "en": "Unknown time zone 「{value}」: use an IANA name such as Asia/Shanghai, Asia/Taipei or Europe/London.",
    },
    "model.info": {
        "zh": "当前模型：{name}（自 {since}）\n路径：{path}\n指标：{metrics}",
        "en": "Active model: {name} (since {since})\npath: {path}\nmetrics: {metrics}",
    },
    "model.no_metrics": {"zh": "尚无（出厂模型）", "en": "none yet (the shipped model)"},
    "model.unloadable": {
        "zh": "注意：注册表里的当前模型 {name}（{path}）加载不了（{problem}），仍在用 {served}。"
        "运行 `lianju models rollback`（或 /model rollback）回到上一个模型。",
        "en": "Note: the registry's active model {name} ({path}) cannot be loaded ({problem}); still serving {served}. "
        "Run `lianju models rollback` (or /model rollback) to go back to the previous model.",
    },
    "model.rolled_back": {"zh": "已回滚。", "en": "Rolled back."},
    "model.no_rollback": {
        "zh": "没有可回滚的模型：当前模型之前没有别的模型上线过。",
        "en": "There is nothing to roll back to: no model was active before the current one.",
    },
    "finetune.started": {
        "zh": "微调已在单独的进程中开始，可能要很久；结果会显示在这里。",
        "en": "Fine-tuning has started in a process of its own and may take long; the outcome will show here.",
    },
    "finetune.running": {
        "zh": "已有一次微调在进行，请等它结束。",
        "en": "A fine-tune is already running; wait for it to end.",
    },
    "finetune.skipped": {"zh": "微调跳过了：{why}", "en": "Fine-tune skipped: {why}"},
    "finetune.promoted": {
        "zh": "微调完成：{name} 通过了全部关卡，已经上线。",
        "en": "Fine-tune done: {name} passed every gate and is now active.",
    },
    "finetune.rejected": {
        "zh": "微调完成，但 {name} 没通过这些关卡：{gates}。继续用 {active}。",
        "en": "Fine-tune done, but {name} failed these gates: {gates}. {active} stays active.",
    },
    "finetune.failed": {"zh": "微调失败，模型不变：{why}", "en": "The fine-tune failed; the model is unchanged: {why}"},
    "sync.done": {"zh": "已同步 {count} 条命令。", "en": "Synced {count} commands."},
    "settings.show": {
        "zh": "本服务器的设置：\n每轮秒数：{turns}\n/作诗 默认体裁：{form}\n频道发言语言：{language}\n诗卡：{card}",
        "zh-TW": "本伺服器的設定：\n每輪秒數：{turns}\n/作詩 預設體裁：{form}\n頻道發言語言：{language}\n詩卡：{card}",
        "en": "This server's settings:\nseconds per turn: {turns}\n/poem's default form: {form}\n"
        "language of channel posts: {language}\npoem card: {card}",
    },
    "settings.on": {"zh": "开", "zh-TW": "開", "en": "on"},
    "settings.off": {"zh": "关", "zh-TW": "關", "en": "off"},
    "settings.bad_turn_seconds": {
        "zh": "每轮秒数须在 {low} 到 {high} 之间。",
        "en": "Seconds per turn must be from {low} to {high}.",
    },
    "settings.bad_form": {"zh": "不认识这个体裁；可选：{forms}。", "en": "Unknown form; choose one of: {forms}."},
    "settings.bad_language": {
        "zh": "不认识这种语言；可选：{languages}。",
        "en": "Unknown language; choose one of: {languages}.",
    },
    "cmd.forgetme": {"zh": "删除我的数据", "en": "forgetme"},
    "cmd.forgetme.desc": {
        "zh": "删除机器人保存的关于你的一切（需确认）",
        "en": "Delete everything the bot keeps about you (asks first)",
    },
    "forget.confirm": {
        "zh": "将删除：你的资料、你的评分、你自己提交的诗、你在游戏中的座位，以及微调数据里你给的星。"
        "保留但去掉你的名字：机器人为你写的诗、你在联句中写的句子、你在游戏中的回合。此操作无法撤销。",
        "en": "This deletes your profile, your ratings, the poems you submitted, your seats in games and your "
        "stars in the fine-tuning data. Kept without your name: poems the bot wrote for you, your lines in "
        "shared poems, your game turns. This cannot be undone.",
    },
    "forget.console_confirm": {"zh": "确认请输入 /forgetme yes", "en": "To confirm, type /forgetme yes"},
    "forget.button": {"zh": "确认删除我的数据", "en": "Delete my data"},
    "forget.not_yours": {
        "zh": "这个按钮只能由请求者本人使用。",
        "en": "Only the person who asked can use this button.",
    },
    "forget.done": {
        "zh": "已删除你的数据：{ratings} 条评分、{poems} 首诗；{anonymised} 处内容已去掉你的名字。",
        "en": "Your data is deleted (ratings: {ratings}, poems: {poems}); your name was removed from {anonymised} "
        "other items.",
    },
    "error.busy": {"zh": "诗人正忙，请稍后再试。", "en": "The poet is busy; please try again in a moment."},
    "error.internal": {
        "zh": "出了点问题，这次没写成。请再试一次。",
        "en": "Something went wrong and no poem was written. Please try again.",
    },
    "error.invalid": {"zh": "输入不合要求：{problem}", "en": "That input is not accepted: {problem}"},
    "error.not_utf8": {
        "zh": "这一行不是 UTF-8 文本：请把终端（或文件）设为 UTF-8 再试。",
        "en": "That line is not UTF-8 text: set the terminal (or the file) to UTF-8 and try again.",
    },
    "error.temperature": {
        "zh": "温度须在 {low} 到 {high} 之间。",
        "en": "The temperature must be between {low} and {high}.",
    },
    "error.permission": {
        "zh": "你需要“管理服务器”权限才能这样做。",
        "en": "You need the Manage Server permission for this.",
    },
    "error.owner": {"zh": "只有机器人的主人可以这样做。", "en": "Only the bot's owner can do this."},
    "error.guild_only": {"zh": "这条命令只能在服务器里用。", "en": "This command works only in a server."},
    "error.cooldown": {"zh": "太快了，请 {seconds} 秒后再试。", "en": "Too fast; try again in {seconds} s."},
    # mypoems.empty in the console, which names its own command (/作诗 is Discord's name for /poem)
    "mypoems.console_empty": {
        "zh": "你还没有请我作过诗。试试 /poem 月。",
        "en": "You have not asked for a poem yet. Try /poem 月.",
    },
}


def normalise_locale(locale: object) -> str:
    """Discord's locales (zh-CN, zh-TW, en-US, …) and ours → one of LOCALES."""
    value = str(getattr(locale, "value", locale) or "")
    if value.lower() in ("zh-tw", "zh-hk", "zh-hant"):
        return ZH_TW
    if value.lower().startswith("zh"):
        return ZH_CN
    return EN


def text(key: str, locale: object, **values: object) -> str:
    entry = MESSAGES[key]
    which = normalise_locale(locale)
    if which == EN:
        template = entry["en"]
    elif which == ZH_TW:
        template = entry.get(ZH_TW) or to_taiwan(entry["zh"])
    else:
        template = entry["zh"]
    return template.format(**values)


def verse(locale: object, text: str) -> str:
    """Lines of a poem as a reader in `locale` reads them: in traditional characters for zh-TW, with
    the poem's own words (to_taiwan would make 信息 資訊)."""
    return to_traditional(text) if normalise_locale(locale) == ZH_TW else text


def bilingual(locale: object, zh: str, en: str) -> str:
    """A message that arrives already written in both languages (the engine's PoetError)."""
    which = normalise_locale(locale)
    return en if which == EN else to_taiwan(zh) if which == ZH_TW else zh
