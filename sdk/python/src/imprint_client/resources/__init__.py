"""The API's resources, one module per URL segment; each has a sync and an async class."""
