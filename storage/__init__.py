"""Storage: SQLAlchemy 2.0 models, sessions and repositories (see the storage issue)."""
