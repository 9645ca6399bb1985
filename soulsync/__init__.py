"""SoulSync model service: depression-risk screening behind a documented HTTP API.

The package imports nothing at import time. The app is built by `soulsync.app.create_app()`;
the `soulsync` command (`soulsync.cli`) trains, monitors and writes the generated files.
"""

from importlib import metadata

try:
    __version__ = metadata.version("soulsync")
except metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"
