# The serving image: the service, its shipped model and gunicorn; no TensorFlow, no test tools.
# The base image is a build argument so that the same file builds on Cloud Build (the official
# image) and on machines that provide a local stand-in (../shared/tools/container).
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: dependencies into /opt/venv, the project into /staging -----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# pip lives in its own environment, so the runtime environment carries neither pip nor setuptools.
RUN python3 -m venv /tools && python3 -m venv --without-pip /opt/venv
WORKDIR /src
# Only the locks first: this layer (the slow one) is reused until they change, whatever happens to
# the code. Every version is the lock's and every file's hash is checked; nothing is resolved
# (--no-deps: a missing pin fails the build). pip and the build backend come from a lock too.
COPY requirements/build.txt requirements/serving.txt ./requirements/
RUN /tools/bin/pip install --require-hashes --no-deps -r requirements/build.txt \
    && /tools/bin/pip --python /opt/venv/bin/python install --require-hashes --no-deps \
         -r requirements/serving.txt \
    && /tools/bin/pip --python /opt/venv/bin/python check \
    # What the service never loads: LiteRT's WebGPU accelerator, vendor SDK stubs and model
    # tools (it runs the classic CPU interpreter), and numpy's test suites. The container test
    # (scripts/container-test.sh) proves the service still answers without them.
    && site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && rm -rf "$site"/ai_edge_litert/libLiteRtWebGpuAccelerator.so "$site"/ai_edge_litert/tools \
              "$site"/ai_edge_litert/vendors \
    && find "$site"/numpy -type d -name tests -prune -exec rm -rf {} +
# The project. A lock made from another pyproject.toml stops the build (generators/lock.py check),
# and so does a dependency the lock lacks (--no-index: pip may only find it installed).
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY generators/lock.py ./generators/
COPY soulsync ./soulsync
RUN python3 generators/lock.py check \
    && /tools/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /tools/bin/pip --python /opt/venv/bin/python install --no-index --root /staging /wheels/*.whl

# --- runtime -------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
# /metrics answers only on 127.0.0.1:9090, for a collector beside the service (a sidecar).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8080 \
    SOULSYNC_METRICS_PORT=9090
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin soulsync
# Dependencies (a layer that changes only with the lock), then the project (small).
COPY --from=build /opt/venv /opt/venv
COPY --from=build /staging/opt/venv /opt/venv
WORKDIR /app
COPY wsgi.py gunicorn.conf.py ./
# The release's verify job runs this same image with another command (python -m deploy.verify,
# deploy/skaffold.yaml): the deploy package, standard library only, and the answers it expects.
# The service never imports it.
COPY deploy/__init__.py deploy/cloud.py deploy/render.py deploy/smoke.py deploy/verify.py \
     deploy/smoke-expected.json ./deploy/
USER 10001:10001
EXPOSE 8080
# Exec form: gunicorn is PID 1 and receives Cloud Run's SIGTERM itself.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
