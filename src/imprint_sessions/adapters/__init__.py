"""Adapters to outside services the domain defines interfaces for (HTTP underwriter, SMS)."""
