"""Persistence: the schema, the migrations and the repositories over PostgreSQL and SQLite."""
