"""One cog per feature; each is thin: it turns an interaction into a call to bot.services."""
