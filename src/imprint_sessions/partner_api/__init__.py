"""Server-to-server surface: partner API routes, authenticated by API key."""
