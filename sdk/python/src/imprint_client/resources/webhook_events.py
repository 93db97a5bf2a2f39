"""``client.webhook_events``: every event sent to you, and each one's deliveries."""

from __future__ import annotations

from imprint_client import _operations as ops
from imprint_client.models import WebhookDelivery, WebhookEvent
from imprint_client.pagination import AsyncPage, SyncPage
from imprint_client.resources._base import AsyncResource, SyncResource


class WebhookEvents(SyncResource):
    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> SyncPage[WebhookEvent]:
        """Your events, oldest first."""
        return self._client._page(
            ops.LIST_WEBHOOK_EVENTS.call(query={"limit": limit, "starting_after": starting_after})
        )

    def deliveries(self, event_id: str) -> SyncPage[WebhookDelivery]:
        """Each delivery of an event (one per endpoint, and replays), with every attempt."""
        return self._client._page(
            ops.LIST_WEBHOOK_EVENT_DELIVERIES.call(path={"event_id": event_id})
        )


class AsyncWebhookEvents(AsyncResource):
    async def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncPage[WebhookEvent]:
        """Your events, oldest first."""
        return await self._client._page(
            ops.LIST_WEBHOOK_EVENTS.call(query={"limit": limit, "starting_after": starting_after})
        )

    async def deliveries(self, event_id: str) -> AsyncPage[WebhookDelivery]:
        """Each delivery of an event (one per endpoint, and replays), with every attempt."""
        return await self._client._page(
            ops.LIST_WEBHOOK_EVENT_DELIVERIES.call(path={"event_id": event_id})
        )
