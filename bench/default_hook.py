"""gunicorn settings for the ledger (`--config python:bench.default_hook`): the checkout's own
gunicorn.conf.py, read from the folder gunicorn starts in, with one server hook, named by
BENCH_DEFAULT_HOOK, left as gunicorn's default (which does nothing): what that hook adds to a
request is then the difference."""

import os
import runpy

globals().update(
    (name, value)
    for name, value in runpy.run_path("gunicorn.conf.py").items()
    if not name.startswith("__")
)
del globals()[os.environ["BENCH_DEFAULT_HOOK"]]
