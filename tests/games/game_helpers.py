"""Players, channels and a fixed clock shared by the games' tests (imported by name: pytest puts
this folder on sys.path)."""

from datetime import UTC, datetime

from bot.games.common import Player

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
LI_BAI, DU_FU, WANG_WEI = Player(101, "李白"), Player(102, "杜甫"), Player(103, "王维")
CHANNEL, OTHER_CHANNEL, GUILD = 5001, 5002, 42
