"""Alembic migrations; ``imprint-sessions db upgrade`` applies them."""
