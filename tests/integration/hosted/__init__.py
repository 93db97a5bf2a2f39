"""Hosted page, web SDK script and demo shop integration tests (a package: names of its own)."""
