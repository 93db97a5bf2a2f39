"""``client.api_keys``: ``/v2/keys`` (rotation: create a new key, move to it, delete the old)."""

from __future__ import annotations

from imprint_client import _operations as ops
from imprint_client.models import CreatedApiKey, DeletedApiKey
from imprint_client.resources._base import AsyncResource, SyncResource


class ApiKeys(SyncResource):
    def create(self) -> CreatedApiKey:
        """A new key with your permissions; ``api_key`` is in this response only. Retried only
        where it cannot have been created (no connection made, a 429 or a 503)."""
        return self._client._request(ops.CREATE_KEY.call())

    def delete(self, key_id: str) -> DeletedApiKey:
        """Revoke one of your keys (it stops working everywhere within a second)."""
        return self._client._request(ops.DELETE_KEY.call(body={"id": key_id}))


class AsyncApiKeys(AsyncResource):
    async def create(self) -> CreatedApiKey:
        """A new key with your permissions; ``api_key`` is in this response only. Retried only
        where it cannot have been created (no connection made, a 429 or a 503)."""
        return await self._client._request(ops.CREATE_KEY.call())

    async def delete(self, key_id: str) -> DeletedApiKey:
        """Revoke one of your keys (it stops working everywhere within a second)."""
        return await self._client._request(ops.DELETE_KEY.call(body={"id": key_id}))
