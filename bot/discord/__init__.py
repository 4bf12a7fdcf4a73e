"""The Discord half of the bot: the only package that imports discord. The bot subclass builds
the shared objects in `setup_hook`; the cogs translate between Discord and the application's
plain calls (bot.services, bot.games); views and posts are how a poem and a game look there."""
