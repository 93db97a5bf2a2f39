"""Webhook delivery: signing (signing.py), target vetting (targets.py) and the outbox worker."""
