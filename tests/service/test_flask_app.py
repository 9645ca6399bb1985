"""What the service's Flask class (soulsync/app.py's ServiceFlask) changes of Flask's own."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

from soulsync.app import create_app


def _ran_by_flasks_async_support(app: Any, function: Callable[..., Any]) -> bool:
    """Whether Flask took `function` as a coroutine function: it wraps it, or (without its
    `async` extra, not a dependency of the service) refuses it."""
    try:
        return app.ensure_sync(function) is not function
    except RuntimeError as refused:
        return "async" in str(refused)


class View:
    def get(self) -> None: ...

    async def post(self) -> None: ...


class Unhashable:
    """A callable that cannot be a key (it defines equality, not a hash)."""

    def __eq__(self, other: object) -> bool:
        return other is self

    def __call__(self) -> None: ...


def test_plain_functions_are_returned_as_they_are_and_coroutines_go_to_flask() -> None:
    app = create_app({"TESTING": True})

    def plain() -> None: ...

    async def coroutine() -> None: ...

    view, other = View(), View()
    for _ in range(2):  # the second time from what the app kept
        assert app.ensure_sync(plain) is plain
        assert app.ensure_sync(view.get) == view.get
        assert app.ensure_sync(other.get) == other.get  # another instance, the same function
        assert _ran_by_flasks_async_support(app, coroutine)
        assert _ran_by_flasks_async_support(app, view.post)
    unhashable = Unhashable()
    assert app.ensure_sync(unhashable) is unhashable


def test_what_an_app_keeps_goes_with_it() -> None:
    app = create_app({"TESTING": True})
    app.test_client().get("/healthz")  # its hooks and views asked about
    gone = weakref.ref(app)
    del app
    gc.collect()
    assert gone() is None
