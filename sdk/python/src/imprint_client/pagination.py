"""Pages of a list, and walking all of them (``limit`` / ``starting_after``).

Iterating a page walks every page after it too, fetching each when it is reached::

    for customer in client.customers.list():          # every customer, page after page
        ...
    page = client.customers.list(limit=100)
    page.data, page.has_more, page.total                 # this page only
    for customer in page.auto_paging_iter():             # the same walk, by name (stripe-python's)
        ...

Async: ``async for customer in await client.customers.list(): ...``. A walk starts from the page
it is called on, so iterating the same page twice walks twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from imprint_client.models import ImprintModel, ListBody

__all__ = ["AsyncPage", "SyncPage"]

T = TypeVar("T", bound=ImprintModel)


def _last_id(items: list[T]) -> str | None:
    value = getattr(items[-1], "id", None) if items else None
    return value if isinstance(value, str) else None


class _Page(Generic[T]):
    __slots__ = ("data", "has_more", "total")

    data: list[T]
    has_more: bool  # a page follows this one
    total: int  # matching items on every page

    def __init__(self, body: ListBody[T]) -> None:
        self.data = body.data
        self.has_more = body.has_more
        self.total = body.total

    def _next_cursor(self) -> str | None:
        return _last_id(self.data) if self.has_more else None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(total={self.total}, has_more={self.has_more}, "
            f"data={self.data!r})"
        )


class SyncPage(_Page[T]):
    """One page; iterating it walks this page and every one after it."""

    __slots__ = ("_fetch",)

    def __init__(self, body: ListBody[T], fetch: Callable[[str], SyncPage[T]] | None) -> None:
        super().__init__(body)
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self._fetch is not None and self._next_cursor() is not None

    def next_page(self) -> SyncPage[T] | None:
        """The page after this one (one request), or ``None`` if this is the last."""
        cursor = self._next_cursor()
        if self._fetch is None or cursor is None:
            return None
        return self._fetch(cursor)

    def auto_paging_iter(self) -> Iterator[T]:
        page: SyncPage[T] | None = self
        while page is not None:
            yield from page.data
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        return self.auto_paging_iter()


class AsyncPage(_Page[T]):
    """One page; ``async for`` over it walks this page and every one after it."""

    __slots__ = ("_fetch",)

    def __init__(
        self, body: ListBody[T], fetch: Callable[[str], Awaitable[AsyncPage[T]]] | None
    ) -> None:
        super().__init__(body)
        self._fetch = fetch

    def has_next_page(self) -> bool:
        return self._fetch is not None and self._next_cursor() is not None

    async def next_page(self) -> AsyncPage[T] | None:
        """The page after this one (one request), or ``None`` if this is the last."""
        cursor = self._next_cursor()
        if self._fetch is None or cursor is None:
            return None
        return await self._fetch(cursor)

    async def auto_paging_iter(self) -> AsyncIterator[T]:
        page: AsyncPage[T] | None = self
        while page is not None:
            for item in page.data:
                yield item
            page = await page.next_page()

    def __aiter__(self) -> AsyncIterator[T]:
        return self.auto_paging_iter()
