"""``client.webhook_deliveries``: sending a delivered or dead delivery again."""

from __future__ import annotations

from imprint_client import _operations as ops
from imprint_client.models import WebhookDelivery
from imprint_client.resources._base import AsyncResource, SyncResource


class WebhookDeliveries(SyncResource):
    def replay(self, delivery_id: str, *, idempotency_key: str | None = None) -> WebhookDelivery:
        """Send the same event again (same id, same body) as a new delivery."""
        return self._client._request(
            ops.REPLAY_WEBHOOK_DELIVERY.call(
                path={"delivery_id": delivery_id}, idempotency_key=idempotency_key
            )
        )


class AsyncWebhookDeliveries(AsyncResource):
    async def replay(
        self, delivery_id: str, *, idempotency_key: str | None = None
    ) -> WebhookDelivery:
        """Send the same event again (same id, same body) as a new delivery."""
        return await self._client._request(
            ops.REPLAY_WEBHOOK_DELIVERY.call(
                path={"delivery_id": delivery_id}, idempotency_key=idempotency_key
            )
        )
