"""The ``loopback_only`` guard itself: a connect off loopback fails before any packet is sent."""

from __future__ import annotations

import asyncio
import socket

import pytest

from webhook_receiver import receiving


def test_a_connect_off_loopback_fails_before_it_is_made(loopback_only: list[str]) -> None:
    with socket.socket() as sock, pytest.raises(AssertionError, match="off loopback"):
        sock.connect(("10.255.255.1", 9))
    assert loopback_only == ["10.255.255.1"]


async def test_an_asyncio_connect_off_loopback_fails_and_loopback_works(
    loopback_only: list[str],
) -> None:
    with pytest.raises(AssertionError, match="off loopback"):
        await asyncio.open_connection("10.255.255.1", 9)
    with receiving() as receiver:
        _, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
        writer.close()
        await writer.wait_closed()
    assert loopback_only == ["10.255.255.1"]
