"""gunicorn settings, read by `gunicorn --config gunicorn.conf.py wsgi:app`.

The values come from the server settings of soulsync/config.py (HOST, PORT, WEB_CONCURRENCY,
GUNICORN_WORKER_CONNECTIONS, GUNICORN_TIMEOUT, GUNICORN_GRACEFUL_TIMEOUT,
PROMETHEUS_MULTIPROC_DIR), documented in docs/configuration.md. A setting that cannot be read,
a file limit below the connections asked for, or a configuration that loses the metrics
listener stops start-up with one line.
"""

import atexit
import glob
import os
import resource
import shutil
import sys
import tempfile

from soulsync.config import ConfigError, from_environment, server_settings

try:
    _settings = server_settings()
    _metrics_port = from_environment()["METRICS_PORT"]
except ConfigError as error:
    sys.exit(f"soulsync: {error}")

# The service on HOST; /metrics, when it has a port of its own, on loopback only: the
# platform's collector runs beside the service (a sidecar) and clients cannot reach it.
bind = [f"{_settings['HOST']}:{_settings['PORT']}"]
_metrics_bind = f"127.0.0.1:{_metrics_port}" if _metrics_port else None
if _metrics_bind:
    bind.append(_metrics_bind)
workers = _settings["WEB_CONCURRENCY"]
# gevent: a connection costs a greenlet, so slow clients cannot hold the workers
# (soulsync/server.py says why; soulsync/event_loop.py keeps the turns fair).
worker_class = "gevent"
worker_connections = _settings["GUNICORN_WORKER_CONNECTIONS"]
timeout = _settings["GUNICORN_TIMEOUT"]
graceful_timeout = _settings["GUNICORN_GRACEFUL_TIMEOUT"]
# Also the most a client gets to send a request's head, and how long an idle connection is
# kept open.
keepalive = 5
# A request's head: at most this many header lines (a browser sends about twenty, Cloud Run's
# front end adds about ten), each at most gunicorn's 8,190 bytes, so that a client cannot make
# the service parse a megabyte of head before it decides anything.
limit_request_fields = 50
# The app writes its own access line per request (JSON, no bodies): gunicorn's is off, and its
# own messages are JSON lines too, with any that may hold a client's bytes withheld.
accesslog = None
logger_class = "soulsync.server.ServerLog"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "soulsync.logs.JsonFormatter"}},
    "filters": {"withheld": {"()": "soulsync.server.WithheldClientBytes"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
        "gunicorn": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["withheld"],
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["gunicorn"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}
# The control socket (gunicornc) is not used here; without a writable home it only warns.
control_socket_disable = True

# Each connection holds a file, and a reply sent from a file (the docs' assets) one more; so do
# the metrics' files, the model and the logs.
_files_needed = 2 * worker_connections + 64
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft != resource.RLIM_INFINITY and _soft < _files_needed:
    if _hard != resource.RLIM_INFINITY and _hard < _files_needed:
        sys.exit(
            f"soulsync: GUNICORN_WORKER_CONNECTIONS {worker_connections} needs {_files_needed} "
            f"open files, and this process may open {_hard}: lower it or raise the limit"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (_files_needed, _hard))

# Prometheus metrics summed over workers: prometheus-client's multiprocess mode needs a folder
# of its own, named before any worker imports the app. A folder made here is removed when this
# process exits, however it exits.
_metrics_dir = _settings["PROMETHEUS_MULTIPROC_DIR"] or tempfile.mkdtemp(prefix="soulsync-metrics-")
if not _settings["PROMETHEUS_MULTIPROC_DIR"]:
    _master = os.getpid()
    atexit.register(lambda: os.getpid() == _master and shutil.rmtree(_metrics_dir, True))
try:
    os.makedirs(_metrics_dir, exist_ok=True)
except OSError as error:
    sys.exit(f"soulsync: PROMETHEUS_MULTIPROC_DIR {_metrics_dir}: {error.strerror}")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
# prometheus-client chooses where its values live when it is first imported: only now, with
# the folder named, may this process import it.
from prometheus_client import multiprocess  # noqa: E402

from soulsync.server import (  # noqa: E402, F401 (hooks)
    post_request,
    post_worker_init,
    pre_request,
    worker_exit,
)


def on_starting(server):
    """Refuse a bind that lost the metrics listener (a --bind on the command line replaces
    this file's), and start counting from zero: an earlier run's files would add to this
    one's (prometheus-client asks for the folder to be emptied before the workers start)."""
    if _metrics_bind and _metrics_bind not in server.cfg.bind:
        sys.exit(
            f"soulsync: SOULSYNC_METRICS_PORT is {_metrics_port} but gunicorn binds only "
            f"{', '.join(server.cfg.bind)}: add --bind {_metrics_bind} or unset it"
        )
    for stale in glob.glob(os.path.join(_metrics_dir, "*.db")):
        os.remove(stale)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
