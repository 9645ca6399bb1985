"""The backend's Node example (examples/node, docs/integration.md) runs with node against the
service under gunicorn: the contract, a batch, a bad body, in the person's language; the key,
an ID token, Cloud Run's own 429/503/504 and a timeout retried, Retry-After read, the call's
deadline kept, no credentials thrown as the client's one error type; the echoed X-Request-ID
logged, and records that `soulsync monitor` reads. The client snippet of docs/integration.md
runs as written, and `tsc` checks the client against its types (generated from
openapi/openapi.json, `make types`).

Skipped only where node is missing, saying so; CI sets SOULSYNC_NODE_REQUIRED (.ci/run), and
there a missing node fails."""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from bench.harness import ROOT, Server, call, free_port

EXAMPLE = ROOT / "examples" / "node"
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def node_env(**env: str) -> dict[str, str]:
    """This environment without the model's or Google's settings, plus `env`; Google's
    libraries look for no metadata server unless the test runs one."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MODEL_", "GOOGLE_"))}
    return {**clean, "METADATA_SERVER_DETECTION": "none", **env}


def run_example(base: str, store: Path, timeout: float = 120, **env: str) -> tuple[int, list[dict]]:
    """(exit status, the JSON lines it printed); any line that is not JSON fails the test."""
    result = subprocess.run(
        ["node", "example.js"],
        cwd=EXAMPLE,
        env=node_env(MODEL_URL=base, STORE_FILE=str(store), **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.stderr == "", result.stderr
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


def steps(lines: list[dict]) -> dict[str, dict]:
    return {line["step"]: line for line in lines if "step" in line}


def calls(lines: list[dict]) -> list[dict]:
    return [line for line in lines if "model_call" in line]


def test_the_client_type_checks_against_the_api(npm_installed: Path) -> None:
    result = subprocess.run(
        ["npx", "--no-install", "tsc", "--project", "tsconfig.json"],
        cwd=npm_installed, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_against_the_service(npm_installed: Path, server: Server, contract, tmp_path):
    store = tmp_path / "screenings.jsonl"
    status, lines = run_example(server.base, store)
    assert status == 0, lines
    done = steps(lines)
    # The contract example gets what the service gives any client for it, in Indonesian.
    _, direct = call(server.base + "/predict?lang=id", contract["example"])
    assert done["predict"]["result"] == direct["result"]
    assert done["predict"]["show"]["risk_level"] == direct["risk_level"]
    assert done["predict"]["show"]["risk_level_text"] == direct["risk_level_text"]
    assert done["predict"]["show"]["support"] == direct.get("support")
    assert done["welcome"]["model_version"] == direct["model_version"]
    batch = done["batch"]
    assert batch["count"] == 2
    # Suicidal thoughts at a low score: No Depression, and support all the same.
    assert batch["results"][1] == {"result": "No Depression", "risk_level": "low", "support": True}
    # The bad body: 422 naming the field, in Indonesian, not retried.
    assert done["bad body"]["status"] == 422
    assert "Pressure" in done["bad body"]["errors"]["json"]
    assert "bilangan bulat" in done["bad body"]["errors"]["json"]["Pressure"][0]
    logged = calls(lines)
    assert [c["status"] for c in logged] == [200, 200, 200, 422]
    assert all(REQUEST_ID.fullmatch(c["request_id"]) for c in logged)
    assert all(c["attempt"] == 0 for c in logged)
    # Every request id the client logged is the one in the service's access line.
    log = server.log()
    for logged_call in logged[1:]:
        assert logged_call["request_id"] in log

    records = [json.loads(line) for line in store.read_text().splitlines()]
    assert len(records) == done["stored"]["records"] == 3
    answers = [{k: r[k] for k in contract["example"]} for r in records]
    assert len({json.dumps(a, sort_keys=True) for a in answers}) == 3  # each screening once
    for record in records:
        assert set(contract["example"]) <= set(record)
        assert {"timestamp", "model_version", "result", "risk_level", "probability"} <= set(record)
    # ... which is what `soulsync monitor` reads (too few to judge: exit 0, not 2).
    monitor = subprocess.run(
        [sys.executable, "-m", "soulsync.cli", "monitor", str(store), "--out",
         str(tmp_path / "report")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if "No module named" in monitor.stderr:
        pytest.skip("soulsync monitor needs its extra, which this install lacks")
    assert monitor.returncode == 0, monitor.stdout + monitor.stderr
    assert monitor.stdout.startswith("3 questionnaires")


def test_example_with_api_keys(npm_installed: Path, start_server, tmp_path) -> None:
    keyed = start_server(SOULSYNC_API_KEYS="first-key,second-key")
    status, lines = run_example(keyed.base, tmp_path / "a.jsonl", MODEL_API_KEY="second-key")
    assert status == 0, lines
    assert steps(lines)["bad body"]["status"] == 422

    status, lines = run_example(keyed.base, tmp_path / "b.jsonl")
    assert status == 2, lines
    refused = steps(lines)["refused"]
    assert refused["status"] == 401
    assert "MODEL_API_KEY" in refused["hint"]
    assert [c["attempt"] for c in calls(lines)] == [0]  # a 401 is not retried
    assert not (tmp_path / "b.jsonl").exists()


# --- a stand-in for Cloud Run's front end and the metadata server -------------------------------


def fake_id_token(audience: str) -> str:
    """A token shaped as Google's (header.payload.signature), the same for one audience: it
    expires in 2100."""
    payload = json.dumps({"aud": audience, "exp": 4102444800}).encode()
    return "e30." + base64.urlsafe_b64encode(payload).decode().rstrip("=") + ".c2ln"


class _Metadata(http.server.BaseHTTPRequestHandler):
    """The metadata server's identity endpoint, as google-auth-library asks it."""

    audiences: ClassVar[list[str]]

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        if "/identity" in self.path:
            audience = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["audience"][0]
            type(self).audiences.append(audience)
            self.wfile.write(fake_id_token(audience).encode())

    def log_message(self, *args: object) -> None:
        pass


class _FrontEnd(http.server.BaseHTTPRequestHandler):
    """Cloud Run's front end in miniature: no valid token, 401; then the planned failures (its
    own, in text, not the service's JSON: 429, 503, 504, or `hang` past the client's timeout);
    then the request passes to the service."""

    protocol_version = "HTTP/1.1"
    target: ClassVar[str]
    #: The ID token it lets through; None for a public service.
    token: ClassVar[str | None]
    plan: ClassVar[list[int | str]]
    seen: ClassVar[list[tuple[str, str | None]]]
    #: The Retry-After header of its 429 and 503, if any.
    retry_after: ClassVar[str | None] = None

    def _pass(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if self.token is not None and self.headers.get("Authorization") != f"Bearer {self.token}":
            return self._reply(401, b"<html>Your client does not have permission</html>")
        if self.plan:
            step = self.plan.pop(0)
            if step == "hang":
                time.sleep(3)
                return self._reply(200, b"too late")
            return self._reply(int(step), b"<html>Google front end</html>")
        headers = {k: v for k, v in self.headers.items() if k.lower().startswith(("x-", "content"))}
        request = urllib.request.Request(
            self.target + self.path, data=body or None, headers=headers, method=self.command
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, data, echoed = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, data, echoed = error.code, error.read(), error.headers
        self._reply(status, data, "application/json", echoed.get("X-Request-ID"))

    do_GET = do_POST = _pass

    def _reply(self, status: int, body: bytes, kind: str = "text/html", rid: str | None = None):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if rid:
            self.send_header("X-Request-ID", rid)
        if self.retry_after and status in (429, 503):
            self.send_header("Retry-After", self.retry_after)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that gave up
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_example_through_cloud_runs_front_end(npm_installed: Path, server: Server, tmp_path):
    """A private service: the example asks the metadata server for an ID token whose audience is
    the service's URL and sends it; Cloud Run's own 429, 503, 504 and a timeout are retried
    with one request id, and the call succeeds."""
    metadata = type("Metadata", (_Metadata,), {"audiences": []})
    with serving(metadata) as metadata_host:
        front = type("FrontEnd", (_FrontEnd,), {"target": server.base, "seen": []})
        with serving(front) as front_host:
            url = f"http://{front_host}"
            front.token = fake_id_token(url)
            front.plan = ["hang", 429, 503, 504]
            status, lines = run_example(
                url,
                tmp_path / "s.jsonl",
                HOME=str(tmp_path),  # no gcloud credentials of this machine's user
                GCE_METADATA_HOST=metadata_host,
                MODEL_ID_TOKEN_AUDIENCE=url,
                MODEL_TIMEOUT_MS="1000",
                MODEL_DEADLINE_MS="60000",
                MODEL_RETRIES="8",
                MODEL_BACKOFF_MS="10",
                METADATA_SERVER_DETECTION="assume-present",
            )
    assert status == 0, lines
    assert metadata.audiences and set(metadata.audiences) == {url}
    assert all(auth == f"Bearer {front.token}" for _, auth in front.seen)
    first = [c for c in calls(lines) if c["model_call"] == "GET /"]
    assert first[0]["error"] == "ECONNABORTED"  # the timeout, then Cloud Run's three
    # (a loaded machine may add a timeout of its own: only the order is asserted)
    assert [c["status"] for c in first if "status" in c] == [429, 503, 504, 200]
    assert [c["attempt"] for c in first] == list(range(len(first)))
    assert len({c["request_id"] for c in first}) == 1
    assert steps(lines)["bad body"]["status"] == 422


def test_example_refused_by_cloud_run_without_a_token(npm_installed: Path, server, tmp_path):
    front = type("FrontEnd", (_FrontEnd,), {"target": server.base, "seen": [], "plan": []})
    front.token = "a token the client does not have"
    with serving(front) as front_host:
        status, lines = run_example(f"http://{front_host}", tmp_path / "s.jsonl")
    assert status == 2, lines
    refused = steps(lines)["refused"]
    assert refused["status"] == 401
    assert "Cloud Run's front end" in refused["message"]
    assert "roles/run.invoker" in refused["hint"]


class _Redirect(http.server.BaseHTTPRequestHandler):
    """What the service answers to POST /prediction (no trailing slash): 308 and HTML."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>Redirecting...</title>"
        self.send_response(308)
        self.send_header("Location", "/prediction/")
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


#: Prints the ModelServiceError a call throws, as JSON.
FAILURE_SCRIPT = """
const { createModelClient } = require('./soulsync-client');
const options = JSON.parse(process.env.CLIENT_OPTIONS || '{}');
const client = createModelClient({ baseUrl: process.env.MODEL_URL, log: () => {}, ...options });
client.welcome().then(
  () => console.log(JSON.stringify({ kind: null })),
  (e) => console.log(JSON.stringify(
    { name: e.name, kind: e.kind, status: e.status, message: e.message })),
);
"""


def client_failure(url: str, **options: object) -> dict:
    result = subprocess.run(
        ["node", "-e", FAILURE_SCRIPT],
        cwd=EXAMPLE,
        env=node_env(MODEL_URL=url, HOME=str(EXAMPLE), CLIENT_OPTIONS=json.dumps(options)),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_redirect_is_named_as_one(npm_installed: Path) -> None:
    """A wrong path the service redirects: the client follows no redirect and says it is one,
    not that Cloud Run answered."""
    with serving(_Redirect) as host:
        failure = client_failure(f"http://{host}")
    assert failure["name"] == "ModelServiceError"
    assert (failure["kind"], failure["status"]) == ("status", 308)
    assert "a redirect to /prediction/" in failure["message"]
    assert "Cloud Run" not in failure["message"]


def test_no_credentials_is_the_clients_error(npm_installed: Path, server: Server) -> None:
    """An ID token asked for where there are no Google credentials (a laptop): the call throws
    ModelServiceError of kind `credentials`, which a catch written from the docs handles."""
    failure = client_failure(server.base, idTokenAudience=server.base)
    assert failure["name"] == "ModelServiceError"
    assert (failure["kind"], failure["status"]) == ("credentials", None)
    assert f"no ID token for {server.base}" in failure["message"]


def test_retry_after_beyond_the_deadline_ends_the_call(npm_installed: Path, server: Server):
    """Cloud Run's 429 asks for 30 s: within a 5 s deadline there is no room, so the call
    throws the 429 after one attempt instead of retrying at once or waiting past its deadline."""
    front = type("FrontEnd", (_FrontEnd,), {"target": server.base, "seen": [], "token": None})
    front.plan = [429, 429, 429]
    front.retry_after = "30"
    with serving(front) as host:
        failure = client_failure(f"http://{host}", deadlineMs=5000, backoffMs=10, retries=3)
    assert (failure["kind"], failure["status"]) == ("status", 429)
    assert len(front.seen) == 1


def test_a_call_ends_at_its_deadline(npm_installed: Path, server: Server) -> None:
    """Every attempt stalls: the call ends with kind `deadline` once its deadline passed, after
    the attempts that fitted in it."""
    front = type("FrontEnd", (_FrontEnd,), {"target": server.base, "seen": [], "token": None})
    front.plan = ["hang"] * 10
    with serving(front) as host:
        failure = client_failure(
            f"http://{host}", deadlineMs=1500, timeoutMs=1000, backoffMs=10, retries=9
        )
    assert (failure["kind"], failure["status"]) == ("deadline", None)
    assert 1 <= len(front.seen) <= 3


# --- the client snippet of docs/integration.md, as written --------------------------------------


def integration_snippet() -> str:
    """The code block of docs/integration.md's "The client" section."""
    text = (ROOT / "docs" / "integration.md").read_text(encoding="utf-8")
    section = "\n" + text.split("\n## The client\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"\n\n((?:    .*\n|\n)+)", section)[1]
    return "\n".join(line[4:] for line in block.splitlines())


SNIPPET_HARNESS = """
const answers = require(process.env.CONTRACT).example;
screen(answers, 'id', async (record) => console.log(JSON.stringify({ saved: record })))
  .then((reply) => console.log(JSON.stringify({ reply })));
"""


@pytest.mark.parametrize("private", [False, True], ids=["local", "no-credentials"])
def test_the_integration_snippet_runs_as_written(npm_installed, server, tmp_path, private):
    """docs/integration.md's client code, copied beside the client as a backend would, against
    the service: an Indonesian reply stored once; with an ID token asked for where there are no
    credentials, the route answers "try later" rather than crash."""
    script = tmp_path / "backend.js"
    code = integration_snippet().replace(
        "require('./soulsync-client')",
        f"require({json.dumps(str(EXAMPLE / 'soulsync-client.js'))})",
    )
    script.write_text(code + SNIPPET_HARNESS, encoding="utf-8")
    env = node_env(
        MODEL_URL=server.base, CONTRACT=str(ROOT / "tests" / "fixtures" / "contract.json")
    )
    if private:
        env |= {"MODEL_ID_TOKEN_AUDIENCE": server.base, "HOME": str(tmp_path)}
    result = subprocess.run(
        ["node", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    saved = [p["saved"] for p in printed if "saved" in p]
    (reply,) = [p["reply"] for p in printed if "reply" in p]
    if private:
        assert saved == []
        assert reply["status"] == 503
        return
    assert reply["status"] == 200
    assert reply["body"]["risk_level_text"].startswith("Risiko")
    (record,) = saved
    assert record["result"] == reply["body"]["result"]
