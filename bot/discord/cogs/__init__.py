"""One cog per feature, each thin: it turns an interaction into a call to the application (bot.services,
bot.games). The bot loads every module of this package that has a `setup`."""
