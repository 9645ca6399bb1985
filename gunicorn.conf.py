"""gunicorn settings, read by `gunicorn --config gunicorn.conf.py wsgi:app`.

The values come from the server settings of soulsync/config.py (PORT, WEB_CONCURRENCY,
GUNICORN_WORKER_CONNECTIONS, GUNICORN_TIMEOUT, GUNICORN_GRACEFUL_TIMEOUT, PROMETHEUS_MULTIPROC_DIR),
documented in docs/configuration.md.
"""

import glob
import os
import shutil
import sys
import tempfile

from soulsync.config import ConfigError, from_environment, server_settings

try:
    _settings = server_settings()
    _metrics_port = from_environment()["METRICS_PORT"]
except ConfigError as error:
    sys.exit(f"soulsync: {error}")

# The service on every interface; /metrics, when it has a port of its own, on loopback only:
# the platform's collector runs beside the service (a sidecar) and clients cannot reach it.
bind = [f"0.0.0.0:{_settings['PORT']}"]
if _metrics_port:
    bind.append(f"127.0.0.1:{_metrics_port}")
workers = _settings["WEB_CONCURRENCY"]
# gevent, with a deadline per request (soulsync/server.py says why): a connection costs a
# greenlet, so slow clients cannot hold the workers.
worker_class = "soulsync.server.ServiceWorker"
worker_connections = _settings["GUNICORN_WORKER_CONNECTIONS"]
timeout = _settings["GUNICORN_TIMEOUT"]
# Cloud Run sends SIGTERM, then SIGKILL 10 s later: in-flight requests get 8 s to finish.
graceful_timeout = _settings["GUNICORN_GRACEFUL_TIMEOUT"]
# Also the most a client gets to send a request's head (the gevent worker reads it under it).
keepalive = 5
# The app writes its own access line per request (JSON, no bodies): gunicorn's is off, and its
# own messages are JSON lines too.
accesslog = None


logger_class = "soulsync.server.ServerLog"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "soulsync.logs.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}
# The control socket (gunicornc) is not used here; without a writable home it only warns.
control_socket_disable = True

# Prometheus metrics summed over workers: prometheus-client's multiprocess mode needs a folder
# of its own, named before any worker imports the app. A folder made here is removed at exit.
_metrics_dir = _settings["PROMETHEUS_MULTIPROC_DIR"] or tempfile.mkdtemp(prefix="soulsync-metrics-")
_made_metrics_dir = not _settings["PROMETHEUS_MULTIPROC_DIR"]
try:
    os.makedirs(_metrics_dir, exist_ok=True)
except OSError as error:
    sys.exit(f"soulsync: PROMETHEUS_MULTIPROC_DIR {_metrics_dir}: {error.strerror}")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
# prometheus-client chooses where its values live when it is first imported: only now, with
# the folder named, may this process import it.
from prometheus_client import multiprocess  # noqa: E402


def on_starting(server):
    """Start counting from zero: an earlier run's files would add to this one's (as
    prometheus-client's documentation asks, the folder is emptied before the workers start)."""
    for stale in glob.glob(os.path.join(_metrics_dir, "*.db")):
        os.remove(stale)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
