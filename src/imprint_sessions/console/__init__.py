"""The operator console (``/console``): server-rendered pages over every partner's account."""
