"""Storage: SQLAlchemy 2.0 models (models), where the database is (settings), engines, units of
work and migrations (db, with the Alembic scripts in migrations/), the queries the bot needs (repo,
one module per aggregate), and what they accept (limits, errors)."""
