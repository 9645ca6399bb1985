"""gunicorn settings, read by `gunicorn --config gunicorn.conf.py wsgi:app`.

Everything can be changed from the environment: PORT (Cloud Run sets it), WEB_CONCURRENCY
(workers) and GUNICORN_THREADS.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "8"))
keepalive = 5
accesslog = "-"
errorlog = "-"
# No query strings or bodies in the access log: health data never reaches the logs.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
# The control socket (gunicornc) is not used here; without a writable home it only warns.
control_socket_disable = True
