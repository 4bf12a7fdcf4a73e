"""`lianju console` plays 联句, 飞花令 and 对对联 as a subprocess: one person in several seats,
and the bot's turns at once."""

from __future__ import annotations

from test_console_and_run import lianju

from engine.corpus import LineIndex


def test_console_plays_the_three_games(tmp_path, built_corpus):
    (tmp_path / "corpus").symlink_to(built_corpus, target_is_directory=True)
    recited = next(
        hit.text for hit in LineIndex(built_corpus / "corpus.sqlite").containing("月", 50) if len(hit.text) in (5, 7)
    )
    script = (
        "\n".join(
            [
                "/chain start 七绝 opening=月落乌啼霜满天 bot=no",
                "/chain join 杜甫",
                "/chain line 江枫渔火对愁眠",
                "/chain line 姑苏城外寒山寺",
                "/chain line 夜半钟声到客家",
                "/chain line 夜半钟声到客船",
                "/chain start open5 lines=5",
                "/feihua start 月 strength=strong",
                f"/feihua line {recited}",
                "/feihua status",
                "/feihua line 明月明月照我心",
                "/duilian",
                "/duilian end",
                "/duilian 春",
                "/chain start 五绝 theme=山",
                "/chain status",
                "/chain stop",
                "/chain start 七绝 opening=月落乌啼霜满天 bot=no",
                "/chain join 杜甫",
                "/forgetme yes",
                "/chain status",
                "/chain stop",
                "/chain start 七绝 opening=月落乌啼霜满天 bot=no",
                "/forgetme yes",
                "/chain start 七绝 opening=江枫渔火对愁眠 bot=no",
                "/chain status",
            ]
        )
        + "\n"
    )
    result = lianju(["console", "--name", "李白"], tmp_path, script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "韵部定为下平声一先。" in out and "韵脚「家」属下平声六麻，不押下平声一先。" in out
    credits = [line for line in out.splitlines() if "　—— " in line]
    # 李白 opened alone, so the turn came back to him before 杜甫 sat down.
    assert credits[:4] == [
        "月落乌啼霜满天　—— 李白",
        "江枫渔火对愁眠　—— 李白",
        "姑苏城外寒山寺　—— 杜甫",
        "夜半钟声到客船　—— 李白",
    ]
    assert "诗成！" in out and "/rate 1" in out
    assert "开放联句的句数须为 4 到 32 之间的偶数。" in out  # 5 lines is no open chain
    assert "飞花令开始，令字「月」。" in out and f"李白：{recited}" in out
    assert out.count("出自") >= 2  # 李白's line and the bot's
    assert "李白出局。" in out and "联句君胜出！" in out
    assert "上联：" in out and "时间到，无人应对。" in out
    assert "上联须为 3 到 11 个字。" in out
    assert "五言绝句" in out and "游戏已结束。" in out
    # /forgetme on one's turn: it runs out now, and the line stays without its author's name
    assert "李白超时。\n轮到杜甫。" in out and "1. 月落乌啼霜满天　—— （已删除的用户）\n轮到杜甫，还剩 120 秒。" in out
    # the only player forgot themselves: the game ended with them, and the table is free again
    assert "玩家都已离开，游戏结束。" in out and "已有进行中的游戏" not in out
    assert out.rstrip().endswith("1. 江枫渔火对愁眠　—— 李白\n轮到李白，还剩 120 秒。")
