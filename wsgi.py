"""The WSGI entry point for gunicorn (`gunicorn wsgi:app`): the only module that builds an app
at import."""

import sys

from soulsync.app import create_app
from soulsync.config import ConfigError
from soulsync.inference.backends import ModelLoadError

try:
    app = create_app()
except (ModelLoadError, ConfigError) as error:
    # A model that cannot be served, or a setting that cannot be read: one clear line, no
    # traceback. Exit status 3 is gunicorn's "worker failed to boot": the master stops instead
    # of restarting the worker forever, so the container exits.
    print(f"soulsync: {error}", file=sys.stderr, flush=True)
    sys.exit(3)
