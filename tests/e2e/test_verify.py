"""deploy/verify.py as Cloud Deploy runs it in each phase (a standard-library-only interpreter,
the phase and revision in its environment), against the service under gunicorn standing in for
the revision under test, and a stand-in for Google (the metadata server, Cloud Run's, Cloud
Logging's and Secret Manager's APIs) that answers what the test sets and keeps what it was asked.
"""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "soulsync-project"
REGION = "asia-southeast2"
SERVICE = "soulsync-model-endpoint"
REVISION = f"{SERVICE}-00042-abc"
NAMESPACE = f"/run/apis/serving.knative.dev/v1/namespaces/{PROJECT}"
UNREACHABLE = f"http://127.0.0.1:{free_port()}"


class _Google(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, Any]]
    requests: ClassVar[list[tuple[str, str, dict[str, Any] | None]]]

    def _answer(self, body: dict[str, Any] | None) -> None:
        path = urllib.parse.urlsplit(self.path).path
        type(self).requests.append((self.command, self.path, body))
        answer = self.routes.get(path)
        if callable(answer):
            answer = answer(body)
        if answer is None:
            self.send_response(404)
            self.end_headers()
            return
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self._answer(json.loads(self.rfile.read(length) or b"{}"))

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def google() -> Iterator[tuple[str, type[_Google]]]:
    """(host:port, handler) of the stand-in; the handler's routes are the test's to set."""
    handler = type("Google", (_Google,), {"requests": [], "routes": {}})
    handler.routes.update(
        {
            "/computeMetadata/v1/project/project-id": PROJECT,
            "/computeMetadata/v1/instance/service-accounts/default/token": {"access_token": "at"},
            "/computeMetadata/v1/instance/service-accounts/default/identity": "id.token.sig",
        }
    )
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{port}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def deployed(
    handler: type[_Google],
    service_url: str,
    tag_url: str,
    public: bool = True,
    keys: tuple[str, str] | None = None,
    tagged: str = REVISION,
) -> None:
    env = [{"name": "WEB_CONCURRENCY", "value": "1"}]
    if keys:
        ref = {"name": keys[0], "key": keys[1]}
        env.append({"name": "SOULSYNC_API_KEYS", "valueFrom": {"secretKeyRef": ref}})
    annotations = {"run.googleapis.com/custom-audiences": '["soulsync-model-endpoint"]'}
    if public:
        annotations["run.googleapis.com/invoker-iam-disabled"] = "true"
    handler.routes[f"{NAMESPACE}/revisions/{REVISION}"] = {
        "metadata": {"name": REVISION, "labels": {"serving.knative.dev/service": SERVICE}},
        "spec": {"containers": [{"image": "x@sha256:0", "env": env}]},
    }
    handler.routes[f"{NAMESPACE}/services/{SERVICE}"] = {
        "metadata": {"name": SERVICE, "annotations": annotations},
        "status": {
            "url": service_url,
            "traffic": [
                {"revisionName": "older-revision", "percent": 100},
                {"revisionName": tagged, "percent": 0, "tag": "candidate", "url": tag_url},
            ],
        },
    }


def verify(host: str, phase: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The verify container's command, as deploy/skaffold.yaml gives it."""
    env = {
        "PATH": "/usr/bin:/bin",
        "CLOUD_DEPLOY_PHASE": phase,
        "CLOUD_DEPLOY_TARGET": "prod",
        "CLOUD_RUN_REVISION": REVISION,
        "CLOUD_RUN_SERVICE_URLS": UNREACHABLE,
        "GCE_METADATA_HOST": host,
        "SOULSYNC_GOOGLE_APIS": f"http://{host}",
    }
    command = [sys.executable, "-E", "-s", "-S", "-m", "deploy.verify", f"--region={REGION}"]
    return subprocess.run(
        [*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def failures(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("FAIL")]


def test_canary_0_smoke_tests_the_tagged_revision_at_its_tags_url(server, google) -> None:
    host, handler = google
    deployed(handler, service_url=UNREACHABLE, tag_url=server.base)

    result = verify(host, "canary-0")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"smoke {server.base}: PASS" in result.stdout
    assert result.stdout.splitlines()[-1] == f"PASS verify: canary-0 of {REVISION}"
    [revision, service] = [path for method, path, _ in handler.requests if "/run/" in path]
    assert revision.endswith(f"/revisions/{REVISION}") and service.endswith(f"/services/{SERVICE}")


def test_canary_0_fails_a_revision_whose_threshold_moved(start_server, google, tmp_path) -> None:
    model = tmp_path / "model"
    shutil.copytree(ROOT / "soulsync" / "model", model)
    card = json.loads((model / "model_card.json").read_text(encoding="utf-8"))
    card["decision"]["groups"]["students"]["threshold"] += 0.05
    (model / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    changed = start_server(SOULSYNC_MODEL_PATH=str(model / "model.tflite"))
    host, handler = google
    deployed(handler, service_url=UNREACHABLE, tag_url=changed.base)

    result = verify(host, "canary-0")

    assert result.returncode == 1
    assert failures(result)[0].startswith("FAIL expected answers: 1 of ")
    assert failures(result)[-1] == (
        f"FAIL verify: {REVISION} failed its smoke test at {changed.base}"
    )


def test_canary_0_refuses_a_tag_on_another_revision(server, google) -> None:
    host, handler = google
    deployed(handler, service_url=UNREACHABLE, tag_url=server.base, tagged="older-revision")
    result = verify(host, "canary-0")
    assert result.returncode == 1
    assert failures(result) == [
        f"FAIL verify: the tag candidate names older-revision, not {REVISION}"
    ]


def test_stable_smoke_tests_the_services_url(server, google) -> None:
    host, handler = google
    deployed(handler, service_url=server.base, tag_url=UNREACHABLE)
    result = verify(host, "stable")
    assert result.returncode == 0, result.stdout
    assert f"smoke {server.base}: PASS" in result.stdout


def test_a_private_revision_gets_a_token_for_the_custom_audience_and_the_pinned_key(
    start_server, google
) -> None:
    """Keys on, private: the key of the version the revision pins, an ID token for the service's
    custom audience, and the check that a call without a token is refused, which fails here as
    it must (gunicorn has no Cloud Run in front)."""
    keyed = start_server(SOULSYNC_API_KEYS="smoke-key")
    host, handler = google
    deployed(handler, UNREACHABLE, keyed.base, public=False, keys=("soulsync-api-keys", "4"))
    secret = f"/secretmanager/v1/projects/{PROJECT}/secrets/soulsync-api-keys/versions/4:access"
    handler.routes[secret] = {"payload": {"data": base64.b64encode(b"smoke-key,other").decode()}}

    result = verify(host, "canary-0")

    assert result.returncode == 1
    assert failures(result)[0] == (
        "FAIL private: a call without a token got 200, not 401/403: the revision is public "
        "(docs/deployment.md, 'Public or private')"
    )
    assert "ok   model version" in result.stdout  # GET /model needs the key: it was sent
    assert "smoke-key" not in result.stdout + result.stderr
    identity = [p for _, p, _ in handler.requests if "/identity" in p]
    assert identity == [
        "/computeMetadata/v1/instance/service-accounts/default/identity?audience="
        "soulsync-model-endpoint"
    ]


def request_log(ok: int, failed: int) -> list[dict]:
    return [{"httpRequest": {"status": 200}}] * ok + [{"httpRequest": {"status": 503}}] * failed


def test_canary_10_passes_an_error_rate_within_the_limit_over_every_page(server, google) -> None:
    host, handler = google
    deployed(handler, UNREACHABLE, UNREACHABLE)
    pages = iter(
        [
            {"entries": request_log(60, 1), "nextPageToken": "2"},
            {"entries": request_log(39, 0)},
        ]
    )
    handler.routes["/logging/v2/entries:list"] = lambda body: next(pages)

    result = verify(host, "canary-10", "--soak-seconds=0", "--max-error-rate=0.02")

    assert result.returncode == 0, result.stdout
    assert f"{REVISION}: 1 of 100 requests answered 5xx (1.00%)" in result.stdout
    [first, second] = [body for _, p, body in handler.requests if p.startswith("/logging")]
    assert f'resource.labels.revision_name="{REVISION}"' in first["filter"]
    assert "run.googleapis.com%2Frequests" in first["filter"]
    assert first["resourceNames"] == [f"projects/{PROJECT}"] and second["pageToken"] == "2"


def test_canary_50_fails_above_the_limit(google) -> None:
    host, handler = google
    deployed(handler, UNREACHABLE, UNREACHABLE)
    handler.routes["/logging/v2/entries:list"] = {"entries": request_log(90, 10)}
    result = verify(host, "canary-50", "--soak-seconds=0", "--max-error-rate=0.02")
    assert result.returncode == 1
    assert failures(result) == ["FAIL verify: 10.00% of its requests failed, above 2.00%"]


def test_a_phase_without_a_check_fails(google) -> None:
    host, handler = google
    deployed(handler, UNREACHABLE, UNREACHABLE)
    result = verify(host, "canary-b")
    assert result.returncode == 1
    assert failures(result) == ["FAIL verify: no check is defined for the phase 'canary-b'"]


def test_an_unknown_revision_fails_naming_cloud_runs_answer(google) -> None:
    host, _ = google
    result = verify(host, "stable")
    assert result.returncode == 1
    assert failures(result)[0].startswith(f"FAIL verify: GET http://{host}/run/apis/")
    assert ": 404" in failures(result)[0]
