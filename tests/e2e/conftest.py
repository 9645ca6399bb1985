"""End-to-end fixtures: the service under a real gunicorn, on free loopback ports."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.gunicorn_server import Server, served


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this folder starts real servers: marked `e2e`, left out of `make quick`."""
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One gunicorn with the default settings, shared by the tests that only send requests."""
    with served() as running:
        yield running


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    """Start a gunicorn of the test's own (settings as environment variables), for tests that
    stop, kill or load it; every one is stopped when the test ends."""
    with contextlib.ExitStack() as stack:
        yield lambda **env: stack.enter_context(served(**env))
