"""Database models, sessions and Alembic migrations (SQLite by default, PostgreSQL supported)."""
