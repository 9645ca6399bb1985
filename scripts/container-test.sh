#!/usr/bin/env bash
# Build the serving image, run it, and check what a platform engineer signs off:
#   the image builds; the container becomes ready (/readyz 200) and how fast; it passes the
#   release's smoke test (deploy/smoke.py: the model version, the contract, this build's expected
#   answers, a bad body refused); the process runs as non-root; the start-up log has no error or warning;
#   SIGTERM stops it cleanly (exit 0) within 10 s; how much the image adds over its base; and
#   that its dependencies are exactly requirements/serving.txt's, with their digest (two builds
#   of one commit print the same); and that the release's verify job starts in it.
#
# Engine: $CONTAINER_ENGINE (docker or podman) if set; else docker when a Docker engine
# answers; else podman through ../shared/tools/container (a local stand-in for the base image).
# Usage: scripts/container-test.sh [TAG]     (PORT defaults to 8089)
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${1:-localhost/soulsync:test}
NAME=soulsync-container-test
PORT=${PORT:-8089}
WRAPPER=../shared/tools/container
# What `pip freeze` would say inside the image, which carries no pip: name==version of each
# installed distribution.
FREEZE='import importlib.metadata as m
print("\n".join(sorted(d.metadata["Name"] + "==" + d.version for d in m.distributions())))'

fail() { echo "FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
seconds() { awk "BEGIN { printf \"%.2f\", $1 - $2 }"; }

engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker
  elif [ -x "$WRAPPER" ]; then engine=wrapper
  else fail "no container engine: install docker, or provide $WRAPPER"; fi
fi

case "$engine" in
  docker)
    C=(docker); BASE=${PYTHON_IMAGE:-python:3.11-slim}
    build() { docker build --build-arg PYTHON_IMAGE="$BASE" -t "$TAG" .; }
    run() { docker run -d --name "$NAME" -p "$PORT:$PORT" -e PORT="$PORT" "$TAG" >/dev/null; } ;;
  podman|wrapper)
    C=(podman --runtime runc --cgroup-manager cgroupfs)
    if [ -x "$WRAPPER" ]; then
      BASE=$("$WRAPPER" base)
      build() { "$WRAPPER" build . "$TAG"; }
      run() { "$WRAPPER" run "$TAG" "$NAME" -e PORT="$PORT" >/dev/null; }
    else
      BASE=${PYTHON_IMAGE:-python:3.11-slim}
      build() { podman build --build-arg PYTHON_IMAGE="$BASE" -t "$TAG" .; }
      run() { podman run -d --name "$NAME" -p "$PORT:$PORT" -e PORT="$PORT" "$TAG" >/dev/null; }
    fi ;;
  *) fail "unknown engine $engine" ;;
esac
cleanup() { "${C[@]}" rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== build ($engine, base $BASE)"
started=$(now)
build > /tmp/soulsync-container-build.log 2>&1 || { tail -30 /tmp/soulsync-container-build.log; fail "build"; }
echo "built $TAG in $(seconds "$(now)" "$started") s"

image_size=$("${C[@]}" image inspect "$TAG" --format '{{.Size}}')
base_size=$("${C[@]}" image inspect "$BASE" --format '{{.Size}}')
added_mb=$(( (image_size - base_size) / 1000000 ))
echo "image $((image_size / 1000000)) MB, base $((base_size / 1000000)) MB: adds ${added_mb} MB"
"${C[@]}" run --rm --entrypoint python "$TAG" -c \
  "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('tensorflow', 'keras')))" \
  || fail "TensorFlow or Keras is installed in the image"
echo "no TensorFlow or Keras in the image"
freeze=$("${C[@]}" run --rm --entrypoint python "$TAG" -c "$FREEZE") \
  || fail "could not list the image's packages"
printf '%s\n' "$freeze" | python3 generators/lock.py compare requirements/serving.txt \
  || fail "the image's dependencies are not the lock's"

echo "== run"
cleanup
started=$(now)
run
ready=""
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then ready=$(now); break; fi
  sleep 0.02
done
[ -n "$ready" ] || { "${C[@]}" logs "$NAME"; fail "not ready within 6 s"; }
echo "ready: /readyz 200 after $(seconds "$ready" "$started") s"

echo "== smoke (the release's check before traffic)"
python3 -E -s -S -m deploy.smoke "http://127.0.0.1:$PORT" --wait 10 || fail "the smoke test"
# The verify job runs this image with another command (deploy/skaffold.yaml): it must start there.
"${C[@]}" run --rm --entrypoint python "$TAG" -m deploy.verify --help >/dev/null \
  || fail "the verify job (python -m deploy.verify) does not start in the image"
echo "verify job: python -m deploy.verify starts in the image"

pid=$("${C[@]}" inspect "$NAME" --format '{{.State.Pid}}')
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" != 0 ] || fail "the server runs as root"
echo "server process uid: $uid (non-root)"

startup_log=$("${C[@]}" logs "$NAME" 2>&1)
# Every line must be a JSON log entry of severity INFO (a traceback or a plain-text warning
# would not be).
if ! echo "$startup_log" | python3 -c '
import json, sys
lines = [line for line in sys.stdin if line.strip()]
ok = all(line.startswith("{") and json.loads(line)["severity"] in ("INFO", "DEBUG")
         for line in lines)
sys.exit(0 if ok and lines else 1)'; then
  echo "$startup_log"; fail "the start-up log has errors or warnings"
fi
echo "log (start-up and smoke test): $(echo "$startup_log" | wc -l) lines, no error or warning"

echo "== SIGTERM"
started=$(now)
"${C[@]}" stop --time 10 "$NAME" >/dev/null
stopped=$(now)
code=$("${C[@]}" inspect "$NAME" --format '{{.State.ExitCode}}')
elapsed=$(seconds "$stopped" "$started")
echo "stopped in $elapsed s with exit code $code"
[ "$code" = 0 ] || { "${C[@]}" logs "$NAME"; fail "exit code $code after SIGTERM"; }
awk "BEGIN { exit !($elapsed < 10) }" || fail "took ${elapsed} s to stop"
echo "PASS"
