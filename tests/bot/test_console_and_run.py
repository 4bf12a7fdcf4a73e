"""`lianju console` end to end through its command, and `lianju run`'s start-up refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from bot.occasions import occasion_for

ROOT = Path(__file__).resolve().parents[2]
LIANJU = [sys.executable, "-c", "from bot.cli import app; app()"]


def lianju(
    args: list[str], data_dir: Path, stdin: str = "", cwd: Path = ROOT, **env: str
) -> subprocess.CompletedProcess:
    environment = {**os.environ, "LIANJU_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", **env}
    environment.pop("LIANJU_DISCORD_TOKEN", None) if "LIANJU_DISCORD_TOKEN" not in env else None
    return subprocess.run(
        LIANJU + args, input=stdin, capture_output=True, text=True, cwd=cwd, env=environment, timeout=120
    )


def test_console_writes_rates_and_refuses_bad_input(tmp_path):
    script = "/poem 月 form=五绝\n/rate 1 4\n/poem 🌙\n/poem 春 acrostic=\n/rate 1 9\n/top\n/mypoems\n/model\n"
    result = lianju(["console"], tmp_path, script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    poem_lines = [line.strip() for line in out.splitlines() if line.startswith("  ") and line.strip()[-1] in "，。"]
    assert len(poem_lines[0].rstrip("，。")) == 5
    assert "你给第 1 首评了 4 ★。" in out and "1 人评分 · 平均 4.0 ★" in out
    assert "主题需要至少一个汉字。" in out and "藏头不能为空。" in out
    assert "星数须在 1 到 5 之间。" in out  # 9 stars
    assert "1. 《月》 4.0 ★（1 人）" in out and "#1 《月》" in out and "当前模型：v0" in out
    assert (tmp_path / "lianju.sqlite").is_file()  # SQLite by default, in the data folder


def test_console_speaks_english(tmp_path):
    result = lianju(["console", "--locale", "en"], tmp_path, "/poem " + "月" * 300 + "\n")
    assert "The theme is at most" in result.stdout


def test_console_settings_are_shown_set_refused_and_used(tmp_path):
    script = (
        "/settings\n/settings turn 飞花令 30\n/settings turn chain 2\n/settings turn chess 30\n"
        "/settings form 五律\n/settings language fr\n/settings card off\n/poem 月\n"
    )
    result = lianju(["console"], tmp_path, script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "联句 120s、飞花令 60s、对对联 120s" in out and "联句 120s、飞花令 30s、对对联 120s" in out
    assert "每轮秒数须在 5 到 3600 之间。" in out and "/settings [turn GAME SECONDS" in out
    assert "/作诗 默认体裁：五律" in out and "不认识这种语言；可选：zh-CN, zh-TW, en。" in out and "诗卡：关" in out
    assert "五言律诗" in out  # /poem without a form takes the one set


def test_run_without_a_token_says_what_to_do(tmp_path):
    result = lianju(["run"], tmp_path)
    assert result.returncode == 2
    assert "LIANJU_DISCORD_TOKEN is not set" in result.stderr


def test_daily_themes_follow_the_calendar():
    assert occasion_for(date(2025, 10, 6)).theme == "中秋"  # 中秋节 (lunar 8/15)
    assert occasion_for(date(2025, 4, 4)).theme == "清明"  # a solar term
    assert occasion_for(date(2025, 6, 1)).theme == "夏"  # an ordinary summer day
    assert occasion_for(date(2025, 12, 25)).theme == "冬"
