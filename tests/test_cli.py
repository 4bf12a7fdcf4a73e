import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import get_settings

CHUNWANG = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
LIANJU = Path(sys.executable).with_name("lianju")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LIANJU_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def run(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input)


def test_installed_console_script_checks_a_poem():
    done = subprocess.run([str(LIANJU), "check", CHUNWANG, "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["form"] == "wulv" and report["tone_score"] == 1.0


def lianju(*args: str | bytes, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The installed console script, whose last line of defence (bot.cli.main) CliRunner does not run."""
    return subprocess.run([str(LIANJU), *args], capture_output=True, env={**os.environ, **env}, timeout=120)


def test_errors_no_command_foresaw_are_one_message_not_a_traceback(tmp_path):
    data = {"LIANJU_DATA_DIR": str(tmp_path / "data")}
    setting = lianju("models", "list", env={**data, "LIANJU_POEM_CANDIDATES": "many"})
    assert setting.returncode == 2 and b"LIANJU_POEM_CANDIDATES='many'" in setting.stderr
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(bytes(range(256)) * 16)
    database = lianju("db", "current", env={**data, "LIANJU_DATABASE_URL": f"sqlite:///{damaged}"})
    assert database.returncode == 2 and b"file is not a database" in database.stderr
    not_utf8 = lianju("check", "白日".encode("gb18030"), env=data)
    assert not_utf8.returncode == 2 and b"not UTF-8" in not_utf8.stderr
    # read from a POSIX locale's stdin, the bytes come as lone surrogates: refused too, not dropped unseen
    piped = subprocess.run(
        [str(LIANJU), "check", "-"],
        input="白日依山尽，黄河入海流。欲穷千里目，更上一层楼。".encode() + b"\xff",
        capture_output=True,
        env={**os.environ, **data, "LC_ALL": "C"},
        timeout=120,
    )
    assert piped.returncode == 2 and b"not UTF-8" in piped.stderr
    empty_data_dir = lianju("db", "current", env={"LIANJU_DATA_DIR": ""})
    assert empty_data_dir.returncode == 2 and b"LIANJU_DATA_DIR" in empty_data_dir.stderr
    for done in (setting, database, not_utf8, piped, empty_data_dir):
        assert b"Traceback" not in done.stderr + done.stdout


def test_a_list_setting_that_is_not_json_and_a_refused_password_are_one_line_each(monkeypatch):
    from pydantic_settings import SettingsError
    from sqlalchemy.exc import OperationalError

    from bot.cli import _unforeseen

    monkeypatch.setenv("LIANJU_OWNER_IDS", "abc")
    with pytest.raises(SettingsError) as raised:
        get_settings.cache_clear()
        get_settings()
    message, code = _unforeseen(raised.value)
    assert code == 2 and "owner_ids" in message and "JSON" in message
    monkeypatch.delenv("LIANJU_OWNER_IDS")
    monkeypatch.setenv("LIANJU_DATABASE_URL", "postgresql://lianju:hunter2@127.0.0.1:1/lianju")
    get_settings.cache_clear()
    message, code = _unforeseen(OperationalError("connect", {}, ConnectionRefusedError("refused")))
    get_settings.cache_clear()
    assert code == 2 and "refused" in message and "hunter2" not in message and "lianju:***@" in message


def test_db_current_of_no_database_makes_none(data_dir):
    result = run("db", "current")
    assert result.exit_code == 1 and "none at" in result.output and not (data_dir / "lianju.sqlite").exists()


def test_db_upgrade_to_no_revision_says_so(data_dir):
    for revision in ("", "head+5"):
        result = run("db", "upgrade", revision)
        assert result.exit_code == 2 and "revision" in result.output and "Traceback" not in result.output


def test_check_prints_a_table_and_reasons():
    result = run("check", CHUNWANG.replace("恨别鸟惊心", "恨别鸟惊树"))
    assert result.exit_code == 1
    assert "恨别鸟惊树" in result.output and "←韵" in result.output
    assert "第4句韵脚「树」" in result.output and "does not rhyme" in result.output


def test_check_json_is_one_object_per_call():
    result = run("check", "床前明月光，疑是地上霜。举头望明月，低头思故乡。", "--json", "--form", "五绝")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["rhyme_ok"] and not report["tone_ok"]
    assert report["form"] == "wujue"


@pytest.mark.parametrize("text", ["", "月" * 10_000, "🌙🌙", "hello", "\u200b"])
def test_check_bad_input_is_a_message_with_exit_2(text):
    result = run("check", text)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "error" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("train", "--out", "run", "--lr", "inf"),  # NaN weights from the first step
        ("train", "--out", "run", "--minutes", "inf"),
        ("finetune", "--lr", "inf"),
        ("poem", "月", "--temperature", "nan"),
    ],
)
def test_numbers_that_are_not_finite_are_refused_before_anything_runs(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2 and "Invalid value for" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_check_reads_stdin():
    result = run("check", "-", "--json", input=CHUNWANG)
    assert result.exit_code == 0 and json.loads(result.output)["ok"]


def test_corpus_build_and_find(data_dir, fixture_source):
    result = run("corpus", "build", "--source", str(fixture_source))
    assert result.exit_code == 0, result.output
    assert "wulv" in result.output and "missing_characters" in result.output
    assert "in 近体 shapes" in result.output
    assert (data_dir / "corpus" / "poems.jsonl").is_file()
    found = run("corpus", "find", "國破山河在")
    assert found.exit_code == 0 and "杜甫《春望》" in found.output
    containing = run("corpus", "find", "月", "--limit", "3")
    assert containing.exit_code == 0
    assert containing.output.count("——") == 3
    # a corpus damaged after it was built: one message each, naming the file and what to do
    index, poems = data_dir / "corpus" / "corpus.sqlite", data_dir / "corpus" / "poems.jsonl"
    for damage in (b"", bytes(range(256)) * 16):
        index.write_bytes(damage)
        broken = run("corpus", "find", "月")
        assert broken.exit_code == 2 and "corpus build" in broken.output and "Traceback" not in broken.output
    poems.write_text('{"a": 1}\n')
    broken = run("eval", "--samples", "1")
    assert broken.exit_code == 2 and "line 1 is not a poem record" in broken.output, broken.output
    assert run("corpus", "find", "abc").exit_code == 2


def test_corpus_commands_explain_missing_things(data_dir, tmp_path):
    missing = run("corpus", "build", "--source", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "dist/" in missing.output
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run("corpus", "build", "--source", str(empty))
    assert nothing.exit_code == 2 and "quantangshi" in nothing.output
    no_index = run("corpus", "find", "月")
    assert no_index.exit_code == 2 and "lianju corpus build" in no_index.output


def test_corpus_build_never_replaces_a_folder_that_is_not_a_corpus(tmp_path, fixture_source):
    mine = tmp_path / "mydocs"
    mine.mkdir()
    (mine / "thesis.txt").write_text("mine")
    (tmp_path / "mydocs.old").mkdir()  # a name the old build used for the folder it replaced, then deleted
    refused = run("corpus", "build", "--source", str(fixture_source), "--out", str(mine))
    assert refused.exit_code == 2 and "not a corpus" in refused.output
    assert (mine / "thesis.txt").read_text() == "mine" and (tmp_path / "mydocs.old").is_dir()
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    assert run("corpus", "build", "--source", str(fixture_source), "--out", str(a_file)).exit_code == 2
    assert a_file.read_text() == "mine"
    corpus = tmp_path / "corpus"
    for _ in range(2):  # an earlier corpus is what a build replaces
        assert run("corpus", "build", "--source", str(fixture_source), "--out", str(corpus)).exit_code == 0
    assert (corpus / "poems.jsonl").is_file() and (tmp_path / "mydocs.old").is_dir()


def test_corpus_build_names_a_broken_source_file(tmp_path, fixture_source):
    import shutil

    source = tmp_path / "dist"
    shutil.copytree(fixture_source, source)
    broken = source / "quantangshi" / "poet.tang.0.json"
    broken.write_text("{not json")
    result = run("corpus", "build", "--source", str(source), "--out", str(tmp_path / "corpus"))
    assert result.exit_code == 2 and broken.name in "".join(result.output.split())  # rich folds long paths
    assert not (tmp_path / "corpus").exists()


def test_corpus_crosscheck_reports_agreement(fixture_source):
    result = run("corpus", "crosscheck", "--source", str(fixture_source))
    assert result.exit_code == 0, result.output
    assert "agreeing" in result.output and "modern-tone fallback" in result.output


def test_data_dir_defaults_to_a_per_user_folder(monkeypatch):
    monkeypatch.delenv("LIANJU_DATA_DIR", raising=False)
    get_settings.cache_clear()
    try:
        assert "lianju" in str(get_settings().data_dir)
        assert get_settings().data_dir.is_absolute()
    finally:
        get_settings.cache_clear()
