"""gunicorn settings, read by `gunicorn --config gunicorn.conf.py wsgi:app`.

From the environment: PORT (Cloud Run sets it), WEB_CONCURRENCY (workers), GUNICORN_THREADS,
GUNICORN_TIMEOUT, GUNICORN_GRACEFUL_TIMEOUT.
"""

import os
import shutil
import tempfile

from gunicorn.glogging import Logger

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Cloud Run sends SIGTERM, then SIGKILL 10 s later: in-flight requests get 8 s to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "8"))
keepalive = 5
# The app writes its own access line per request (JSON, no bodies): gunicorn's is off, and its
# own messages are JSON lines too.
accesslog = None


class AppLogsAccess(Logger):
    """gunicorn's logger without its access line. With a logging config present, stock gunicorn
    builds every request's access-log fields even when nothing will print them (7 % of a
    worker's time, measured with py-spy)."""

    def access(self, resp, req, environ, request_time):
        pass


logger_class = AppLogsAccess
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "soulsync.observability.JsonFormatter"}},
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
# of its own, set before any worker imports the app, and emptied at every start.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
    prefix="soulsync-metrics-"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
