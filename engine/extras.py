"""Libraries only some roles install (pyproject's extras), imported when a role needs them.

The base install serves the bot on a CPU; training, LoRA and the GPU backends need extras. A
missing one is named with the extra that brings it, before any work is done.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    pass


def require_extra(module: str, extra: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtra(
            f"{purpose} needs {module}, which the base install leaves out: pip install 'lianju[{extra}]' ({error})"
        ) from error
