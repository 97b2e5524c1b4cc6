"""Shared pytest set-up: tests never touch the network.

Any attempt to open a socket to a non-loopback address fails loudly, so a hidden
download (a hub model, a corpus) shows up as a test failure instead of a hang.
Loopback stays open: the Jupyter kernels that nbval starts and the local HTTP
servers some tests run need it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable

import pytest


class NetworkBlockedError(RuntimeError):
    """Raised when a test tries to reach the network."""


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guard(address: object) -> None:
    if isinstance(address, tuple) and address and not _is_loopback(address[0]):
        raise NetworkBlockedError(
            f"tests must not use the network (tried to connect to {address[0]!r}); "
            "use a local server or a pre-filled cache instead"
        )


def _connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _guard(address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _guard(address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    if host is not None and not _is_loopback(host):
        raise NetworkBlockedError(f"tests must not use the network (tried to resolve {host!r})")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block every non-loopback connection for the duration of each test."""
    monkeypatch.setattr(socket.socket, "connect", _connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _getaddrinfo)


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """Tiny models run fastest on one thread, and tests then do not fight over the cores."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _labkit_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point labkit's cache and progress store at a temporary directory."""
    home = tmp_path_factory.mktemp("labkit_home")
    monkeypatch.setenv("LABKIT_HOME", str(home))


@pytest.fixture
def real_model(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``real_model("minilm")``: go on when that real model is installed, skip when it is not,
    or fail when ``LABKIT_REQUIRE_REAL_MODELS=1`` (CI installs them, so a missing one is a bug).
    Undoes ``LABKIT_REAL_MODELS=off`` for the test."""
    from labkit.real_models import real_available

    monkeypatch.delenv("LABKIT_REAL_MODELS", raising=False)

    def require(name: str) -> None:
        if real_available(name):
            return
        message = f"real model {name} is not installed: run `python -m labkit models install`"
        if os.environ.get("LABKIT_REQUIRE_REAL_MODELS", "").strip() == "1":
            pytest.fail(f"{message} (LABKIT_REQUIRE_REAL_MODELS=1 requires the real models)")
        pytest.skip(message)

    return require
