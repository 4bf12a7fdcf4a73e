"""The queries the bot needs, named for what they do, one module per aggregate.

Every function takes the `AsyncSession` of the caller's unit of work (`Database.unit_of_work()`),
so several steps can share one transaction; what a function writes is durable once that unit of
work commits. Input is checked here, at the boundary (see storage/limits.py), and refused with
`InvalidInput`; missing rows raise `NotFound`, clashes with the current state `Conflict`.

Callers use the flat names below (`from storage import repo; repo.save_poem(...)`); the modules
say where each lives: people (users, forget me), guilds, poems, ratings, games, daily (posts),
registry (model versions, fine-tune runs).
"""

from storage.repo.daily import (
    DAILY_CLAIM_STALE,
    claim_daily_post,
    complete_daily_post,
    release_daily_post,
    unposted_daily_claims,
)
from storage.repo.games import (
    BOT_SEAT,
    NewGame,
    finish_game,
    games_to_resume,
    get_game,
    join_game,
    record_turn,
    running_game,
    set_turn,
    start_game,
)
from storage.repo.guilds import (
    GUILD_SETTINGS,
    channel_locale,
    configure_guild,
    get_guild,
    guilds_with_daily_poem,
    remember_channel_locale,
)
from storage.repo.people import DiscordUser, ForgetReport, existing_users, forget_user, get_user, upsert_user
from storage.repo.poems import NewPoem, attach_message, get_poem, save_poem, user_poems
from storage.repo.ratings import (
    BayesianPrior,
    RatedPoem,
    RatingSummary,
    rate,
    rated_poems_with_ratings,
    rating_summary,
    top_poems,
)
from storage.repo.registry import (
    DEFAULT_MODEL_NAME,
    active_model,
    earlier_models,
    ensure_default_model,
    finish_finetune_run,
    last_finetune_run,
    list_models,
    promote,
    register_candidate,
    roll_back,
    start_finetune_run,
)

__all__ = [
    "BOT_SEAT",
    "DEFAULT_MODEL_NAME",
    "GUILD_SETTINGS",
    "BayesianPrior",
    "DiscordUser",
    "ForgetReport",
    "NewGame",
    "NewPoem",
    "RatedPoem",
    "RatingSummary",
    "active_model",
    "attach_message",
    "channel_locale",
    "DAILY_CLAIM_STALE",
    "claim_daily_post",
    "complete_daily_post",
    "release_daily_post",
    "unposted_daily_claims",
    "configure_guild",
    "ensure_default_model",
    "finish_finetune_run",
    "finish_game",
    "existing_users",
    "forget_user",
    "games_to_resume",
    "get_game",
    "get_guild",
    "get_poem",
    "get_user",
    "guilds_with_daily_poem",
    "join_game",
    "earlier_models",
    "last_finetune_run",
    "list_models",
    "promote",
    "rate",
    "rated_poems_with_ratings",
    "rating_summary",
    "record_turn",
    "register_candidate",
    "remember_channel_locale",
    "roll_back",
    "running_game",
    "save_poem",
    "set_turn",
    "start_finetune_run",
    "start_game",
    "top_poems",
    "upsert_user",
    "user_poems",
]
