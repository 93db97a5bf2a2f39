"""Fixtures of the reliability battery: a private PostgreSQL server the tests may crash or pause."""

from __future__ import annotations

from reliability.pg_cluster import pg_cluster

__all__ = ["pg_cluster"]
