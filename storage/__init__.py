"""Storage: SQLAlchemy 2.0 models (models), engines, units of work and migrations (db), the
queries the bot needs (repo), and what they accept (limits, errors)."""
