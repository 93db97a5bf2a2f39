"""Business rules as plain functions over repositories; no web framework in here."""
