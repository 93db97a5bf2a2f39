"""Browser surface: the client API (/v2/client), authenticated by a short-lived credential."""
