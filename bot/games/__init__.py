"""The games' rules as plain state machines (no Discord), one module per game, each registering
its class in `bot.games.common.GAMES`; the service that keeps them in storage; the clock; their
words. The cogs, the console and the tests all drive the same code.

Every module of the package is imported here, so a new game's module registers itself by being
in the folder.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
