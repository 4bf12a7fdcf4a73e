"""/forgetme in the console: afterwards no database row and no file in the data folder holds the
person's id or name."""

from __future__ import annotations

import io
import json
import sqlite3
from dataclasses import asdict
from pathlib import Path

from bot.config import Settings
from bot.console import Console
from bot.services import Person, Services
from engine.finetune import RatedPoem

SU_SHI = Person(1_122_334_455_667_788, "苏东坡居士")
OTHER = Person(1_300_000_000_000_000_099, "黄庭坚")


def rows_holding(database: Path, user_id: int, name: str) -> list[tuple[str, tuple]]:
    with sqlite3.connect(database) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [
            (table, row)
            for table in tables
            for row in connection.execute(f'SELECT * FROM "{table}"')
            if any(
                value == user_id or (isinstance(value, str) and (name in value or str(user_id) in value))
                for value in row
            )
        ]


def files_holding(folder: Path, user_id: int, name: str) -> list[Path]:
    marks = (str(user_id).encode(), name.encode(), user_id.to_bytes(8, "big"))
    return [path for path in folder.rglob("*") if path.is_file() and any(mark in path.read_bytes() for mark in marks)]


async def test_forgetme_leaves_no_trace_in_the_database_or_the_data_folder(tmp_path):
    settings = Settings(data_dir=tmp_path)
    services = await Services.start(settings)
    try:
        console, other = (Console(services, person, out=io.StringIO()) for person in (SU_SHI, OTHER))
        await console.handle("/poem 月 form=五绝")
        await console.handle("/rate 1 5")
        await other.handle("/rate 1 4")
        await console.handle("/chain start 七绝 opening=月落乌啼霜满天 bot=no")
        models = tmp_path / "models"
        models.mkdir()
        for store, stars in (("feedback.jsonl", 5), ("negatives.jsonl", 1)):
            poem = RatedPoem(1, ["床前明月光"] * 4, "wujue", "月", {SU_SHI.id: stars, OTHER.id: 4})
            alone = RatedPoem(2, ["疑是地上霜"] * 4, "wujue", "霜", {SU_SHI.id: stars})
            (models / store).write_text("".join(json.dumps(asdict(p)) + "\n" for p in (poem, alone)), "utf-8")
        assert rows_holding(tmp_path / "lianju.sqlite", SU_SHI.id, SU_SHI.display_name)
        assert files_holding(tmp_path, SU_SHI.id, SU_SHI.display_name)

        assert "/forgetme yes" in await console.handle("/forgetme")
        assert rows_holding(tmp_path / "lianju.sqlite", SU_SHI.id, SU_SHI.display_name)  # only asked, not confirmed
        assert "已删除你的数据：1 条评分" in await console.handle("/forgetme yes")

        assert rows_holding(tmp_path / "lianju.sqlite", SU_SHI.id, SU_SHI.display_name) == []
        assert files_holding(tmp_path, SU_SHI.id, SU_SHI.display_name) == []
        kept = [json.loads(line) for line in (models / "feedback.jsonl").read_text("utf-8").splitlines()]
        assert [(p["id"], p["ratings"]) for p in kept] == [(1, {str(OTHER.id): 4})]  # the poem only they rated goes
        assert "1 人评分 · 平均 4.0 ★" in await other.handle("/rate 1 4")  # the others' ratings stay
    finally:
        await services.close()
