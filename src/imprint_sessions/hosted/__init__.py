"""The hosted application (``/start``), the web SDK script, and the sandbox's demo shop."""
