"""``client.webhook_endpoints``: where events are POSTed, and their signing secrets."""

from __future__ import annotations

from imprint_client import _operations as ops
from imprint_client.models import DeletedWebhookEndpoint, WebhookEndpoint
from imprint_client.pagination import AsyncPage, SyncPage
from imprint_client.params import EventType
from imprint_client.resources._base import AsyncResource, SyncResource


class WebhookEndpoints(SyncResource):
    def create(
        self,
        *,
        url: str,
        event_types: list[EventType] | None = None,
        description: str | None = None,
    ) -> WebhookEndpoint:
        """Register an endpoint (default: every event type); ``secret`` is in this response
        only. Retried only where it cannot have been created."""
        return self._client._request(
            ops.CREATE_WEBHOOK_ENDPOINT.call(
                body={"url": url, "event_types": event_types, "description": description}
            )
        )

    def list(self) -> SyncPage[WebhookEndpoint]:
        """Your endpoints (all on one page; no secrets)."""
        return self._client._page(ops.LIST_WEBHOOK_ENDPOINTS.call())

    def disable(self, endpoint_id: str, *, idempotency_key: str | None = None) -> WebhookEndpoint:
        """Stop sending to an endpoint; its pending deliveries end as ``DEAD``."""
        return self._client._request(
            ops.DISABLE_WEBHOOK_ENDPOINT.call(
                path={"endpoint_id": endpoint_id}, idempotency_key=idempotency_key
            )
        )

    def delete(self, endpoint_id: str) -> DeletedWebhookEndpoint:
        """Delete an endpoint: nothing more is sent to it, and it is never listed again."""
        return self._client._request(
            ops.DELETE_WEBHOOK_ENDPOINT.call(path={"endpoint_id": endpoint_id})
        )

    def rotate_secret(
        self, endpoint_id: str, *, grace_period_seconds: int | None = None
    ) -> WebhookEndpoint:
        """A new signing secret (in this response only); the old one also signs for
        ``grace_period_seconds`` (default the server's, 24 h; 0 for a leaked secret)."""
        return self._client._request(
            ops.ROTATE_WEBHOOK_SECRET.call(
                path={"endpoint_id": endpoint_id},
                body={"grace_period_seconds": grace_period_seconds},
            )
        )


class AsyncWebhookEndpoints(AsyncResource):
    async def create(
        self,
        *,
        url: str,
        event_types: list[EventType] | None = None,
        description: str | None = None,
    ) -> WebhookEndpoint:
        """Register an endpoint (default: every event type); ``secret`` is in this response
        only. Retried only where it cannot have been created."""
        return await self._client._request(
            ops.CREATE_WEBHOOK_ENDPOINT.call(
                body={"url": url, "event_types": event_types, "description": description}
            )
        )

    async def list(self) -> AsyncPage[WebhookEndpoint]:
        """Your endpoints (all on one page; no secrets)."""
        return await self._client._page(ops.LIST_WEBHOOK_ENDPOINTS.call())

    async def disable(
        self, endpoint_id: str, *, idempotency_key: str | None = None
    ) -> WebhookEndpoint:
        """Stop sending to an endpoint; its pending deliveries end as ``DEAD``."""
        return await self._client._request(
            ops.DISABLE_WEBHOOK_ENDPOINT.call(
                path={"endpoint_id": endpoint_id}, idempotency_key=idempotency_key
            )
        )

    async def delete(self, endpoint_id: str) -> DeletedWebhookEndpoint:
        """Delete an endpoint: nothing more is sent to it, and it is never listed again."""
        return await self._client._request(
            ops.DELETE_WEBHOOK_ENDPOINT.call(path={"endpoint_id": endpoint_id})
        )

    async def rotate_secret(
        self, endpoint_id: str, *, grace_period_seconds: int | None = None
    ) -> WebhookEndpoint:
        """A new signing secret (in this response only); the old one also signs for
        ``grace_period_seconds`` (default the server's, 24 h; 0 for a leaked secret)."""
        return await self._client._request(
            ops.ROTATE_WEBHOOK_SECRET.call(
                path={"endpoint_id": endpoint_id},
                body={"grace_period_seconds": grace_period_seconds},
            )
        )
