"""The Python SDK (sdk/python) against the real service: in-process and real servers."""
