import socket

import pytest

from conftest import NetworkBlockedError


def test_outside_connections_are_blocked() -> None:
    with pytest.raises(NetworkBlockedError, match="must not use the network"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)


def test_name_resolution_is_blocked() -> None:
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 80)


def test_loopback_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()
