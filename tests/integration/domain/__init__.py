"""Domain rules exercised directly on a real database (SQLite and PostgreSQL)."""
