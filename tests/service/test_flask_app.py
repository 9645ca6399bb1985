"""What the service's Flask class (soulsync/app.py's ServiceFlask) changes of Flask's own."""

from __future__ import annotations

import pytest

from soulsync.app import create_app


def test_a_coroutine_function_is_still_run_by_flasks_async_support() -> None:
    """ensure_sync remembers which functions are plain; a coroutine function still goes to
    Flask, which without its `async` extra (not a dependency) refuses it."""
    app = create_app({"TESTING": True})

    def plain() -> None: ...

    async def coroutine() -> None: ...

    assert app.ensure_sync(plain) is plain
    assert app.ensure_sync(plain) is plain  # remembered: the same answer
    for _ in range(2):
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(coroutine)
