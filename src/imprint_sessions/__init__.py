"""imprint-sessions: a self-hostable implementation of Imprint's customer-session system."""

__version__ = "0.1.0"
