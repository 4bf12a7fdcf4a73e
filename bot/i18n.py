"""Every string people read, in one place: zh-CN, zh-TW and English.

Messages are written in simplified Chinese and English; zh-TW is the simplified text converted
with OpenCC s2t unless an entry spells it out. `text(key, locale, **values)` formats a reply;
`LianjuTranslator` gives Discord the localised command names and descriptions (the commands are
declared with `locale_str(default, key=...)`).
"""

from __future__ import annotations

from discord import Locale, app_commands

from engine.text import to_traditional

ZH_CN, ZH_TW, EN = "zh-CN", "zh-TW", "en"
LOCALES = (ZH_CN, ZH_TW, EN)

# key → {"zh": simplified Chinese, "en": English, optionally "zh-TW": a hand-written override}
MESSAGES: dict[str, dict[str, str]] = {
    # --- command names and descriptions (names: lowercase, no spaces, at most 32 characters)
    "cmd.poem": {"zh": "作诗", "en": "poem"},
    "cmd.poem.desc": {"zh": "以一个主题作一首合格律的近体诗", "en": "Write a classical Chinese poem that scans, on a theme"},
    "opt.theme": {"zh": "主题", "en": "theme"},
    "opt.theme.desc": {"zh": "诗的主题，如 月、春江", "en": "What the poem is about, e.g. 月 (moon) or 春江"},
    "opt.form": {"zh": "体裁", "en": "form"},
    "opt.form.desc": {"zh": "五绝、七绝、五律、七律，或自动", "en": "五绝, 七绝, 五律, 七律, or auto"},
    "opt.acrostic": {"zh": "藏头", "en": "acrostic"},
    "opt.acrostic.desc": {"zh": "藏头诗：每句的第一个字（4 或 8 个字）", "en": "藏头: the first character of every line (4 or 8)"},
    "opt.temperature": {"zh": "温度", "en": "temperature"},
    "opt.temperature.desc": {"zh": "用字的大胆程度，0.1–1.5，默认 0.9", "en": "How bold the wording is, 0.1–1.5 (default 0.9)"},
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
    "opt.server.desc": {"zh": "设为整个服务器的默认（需要“管理服务器”权限）", "en": "Make it the server's default (needs Manage Server)"},
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
    "opt.time.desc": {"zh": "当地时间，如 08:00", "en": "Local time of day, e.g. 08:00"},
    "opt.timezone": {"zh": "时区", "en": "timezone"},
    "opt.timezone.desc": {"zh": "IANA 时区，如 Asia/Shanghai", "en": "IANA time zone, e.g. Asia/Shanghai"},
    "cmd.model": {"zh": "模型", "en": "model"},
    "cmd.model.desc": {"zh": "作诗的模型", "en": "The poetry model"},
    "cmd.model.info": {"zh": "信息", "en": "info"},
    "cmd.model.info.desc": {"zh": "当前模型的版本与指标", "en": "The active model's version and metrics"},
    "cmd.lianju": {"zh": "联句", "en": "lianju"},
    "cmd.lianju.desc": {"zh": "机器人管理", "en": "Bot administration"},
    "cmd.lianju.sync": {"zh": "同步", "en": "sync"},
    "cmd.lianju.sync.desc": {"zh": "把斜杠命令同步到 Discord（仅限机器人主人）", "en": "Sync the slash commands to Discord (bot owner only)"},
    # --- replies
    "poem.form": {"zh": "体裁", "en": "Form"},
    "poem.rhyme": {"zh": "韵部", "en": "Rhyme group"},
    "poem.footer": {"zh": "模型 {model} · 第 {poem_id} 首", "en": "model {model} · poem #{poem_id}"},
    "poem.rated": {"zh": "{count} 人评分 · 平均 {mean} ★", "en": "{count} ratings · mean {mean} ★"},
    "poem.unrated": {"zh": "尚无评分", "en": "no ratings yet"},
    "poem.daily_title": {"zh": "每日一诗 · {occasion}", "en": "Poem of the day · {occasion}"},
    "rating.thanks": {"zh": "你给第 {poem_id} 首评了 {stars} ★。", "en": "You gave poem #{poem_id} {stars} ★."},
    "rating.unknown_poem": {"zh": "找不到这首诗了（第 {poem_id} 首）。", "en": "This poem (#{poem_id}) no longer exists."},
    "top.title": {"zh": "佳作 · {period}", "en": "Top poems · {period}"},
    "top.empty": {"zh": "{period}还没有评过分的诗。", "en": "No rated poems {period} yet."},
    "top.entry": {"zh": "{rank}. 《{title}》 {mean} ★（{count} 人）", "en": "{rank}. 《{title}》 {mean} ★ ({count} ratings)"},
    "mypoems.title": {"zh": "你的诗", "en": "Your poems"},
    "mypoems.empty": {"zh": "你还没有请我作过诗。试试 /作诗。", "en": "You have not asked for a poem yet. Try /poem."},
    "mypoems.entry": {"zh": "#{poem_id} 《{title}》 {first_line}……", "en": "#{poem_id} 《{title}》 {first_line}…"},
    "script.set_user": {"zh": "以后给你看的诗用{style}。", "en": "Poems will be shown to you in {style}."},
    "script.set_guild": {"zh": "本服务器的诗以后用{style}。", "en": "This server's poems will be shown in {style}."},
    "daily.set": {"zh": "每日一诗：每天 {time}（{timezone}）发在 <#{channel_id}>。",
                  "en": "Daily poem: every day at {time} ({timezone}) in <#{channel_id}>."},
    "daily.off": {"zh": "每日一诗已关闭。", "en": "The daily poem is off."},
    "daily.bad_time": {"zh": "时间「{value}」看不懂：请写成 08:00 这样的 24 小时制。",
                       "en": "Cannot read the time 「{value}」: write it as 08:00 (24-hour clock)."},
    "daily.bad_timezone": {"zh": "不认识时区「{value}」：请用 IANA 时区名，如 Asia/Shanghai、Asia/Taipei、Europe/London。",
                           "en": "Unknown time zone 「{value}」: use an IANA name such as Asia/Shanghai, Asia/Taipei or Europe/London."},
    "model.info": {"zh": "当前模型：{name}（自 {since}）\n路径：{path}\n指标：{metrics}",
                   "en": "Active model: {name} (since {since})\npath: {path}\nmetrics: {metrics}"},
    "model.no_metrics": {"zh": "尚无（出厂模型）", "en": "none yet (the shipped model)"},
    "sync.done": {"zh": "已同步 {count} 条命令。", "en": "Synced {count} commands."},
    "error.busy": {"zh": "诗人正忙，请稍后再试。", "en": "The poet is busy; please try again in a moment."},
    "error.internal": {"zh": "出了点问题，这次没写成。请再试一次。", "en": "Something went wrong and no poem was written. Please try again."},
    "error.invalid": {"zh": "输入不合要求：{problem}", "en": "That input is not accepted: {problem}"},
    "error.temperature": {"zh": "温度须在 {low} 到 {high} 之间。", "en": "The temperature must be between {low} and {high}."},
    "error.permission": {"zh": "你需要“管理服务器”权限才能这样做。", "en": "You need the Manage Server permission for this."},
    "error.owner": {"zh": "只有机器人的主人可以这样做。", "en": "Only the bot's owner can do this."},
    "error.guild_only": {"zh": "这条命令只能在服务器里用。", "en": "This command works only in a server."},
    "error.cooldown": {"zh": "太快了，请 {seconds} 秒后再试。", "en": "Too fast; try again in {seconds} s."},
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
        template = entry.get(ZH_TW) or to_traditional(entry["zh"])
    else:
        template = entry["zh"]
    return template.format(**values)


def bilingual(locale: object, zh: str, en: str) -> str:
    """A message that arrives already written in both languages (the engine's PoetError)."""
    which = normalise_locale(locale)
    return en if which == EN else to_traditional(zh) if which == ZH_TW else zh


def command_text(key: str) -> app_commands.locale_str:
    """A command name, description or choice: English by default, localised by LianjuTranslator."""
    return app_commands.locale_str(MESSAGES[key]["en"], key=key)


class LianjuTranslator(app_commands.Translator):
    """Gives Discord the zh-CN and zh-TW names and descriptions of every command."""

    async def translate(self, string: app_commands.locale_str, locale: Locale, context) -> str | None:
        key = string.extras.get("key")
        if key not in MESSAGES or normalise_locale(locale) == EN:
            return None
        return text(key, locale)
