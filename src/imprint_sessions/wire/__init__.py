"""The published contract: every request and response shape, written once, and the serializers
generated from them (``serializers.py``).

The HTTP surfaces validate and answer with these; the CLI prints resources with them, so an
operator sees the JSON a partner sees. Nothing here imports a web framework or another surface.
"""
