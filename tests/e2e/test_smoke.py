"""deploy/smoke.py, the real program in a standard-library-only interpreter, against the service
under gunicorn: the shipped model passes; a model whose threshold moved, a missing key, a public
revision where a private one was expected, and a server that never answers all fail, each with
a line that says why."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

from bench.harness import free_port

ROOT = Path(__file__).resolve().parents[2]


def run_smoke(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The smoke test as the verify job and the container test run it, a module of deploy/:
    `-E -s -S` leave it the standard library only."""
    return subprocess.run(
        [sys.executable, "-E", "-s", "-S", "-m", "deploy.smoke", url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=300,
    )


def failures(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("FAIL")]


def test_the_shipped_model_passes(server) -> None:
    result = run_smoke(server.base)
    assert result.returncode == 0, result.stdout + result.stderr
    assert failures(result) == []
    assert result.stdout.splitlines()[-1] == f"smoke {server.base}: PASS"


def test_a_moved_students_threshold_fails_the_smoke(start_server, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(ROOT / "soulsync" / "model", model)
    card_path = model / "model_card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["decision"]["groups"]["students"]["threshold"] += 0.05
    card_path.write_text(json.dumps(card), encoding="utf-8")
    server = start_server(SOULSYNC_MODEL_PATH=str(model / "model.tflite"))

    result = run_smoke(server.base)

    assert result.returncode == 1
    [line] = failures(result)
    assert line.startswith("FAIL expected answers: 1 of ")
    assert "students, nearest above" in line and "got 200 {'result': 'No Depression'" in line


def test_keys_on_need_the_key_from_the_environment(start_server) -> None:
    server = start_server(SOULSYNC_API_KEYS="smoke-key-1,other")
    without = run_smoke(server.base)
    assert without.returncode == 1
    assert failures(without)[0].startswith("FAIL readiness: GET / answered 401")

    with_key = run_smoke(server.base, SOULSYNC_SMOKE_API_KEY="smoke-key-1")
    assert with_key.returncode == 0, with_key.stdout
    assert "smoke-key-1" not in with_key.stdout + with_key.stderr


def test_a_public_revision_fails_where_a_private_one_is_expected(server) -> None:
    result = run_smoke(server.base, "--expect-private")
    assert result.returncode == 1
    assert failures(result) == [
        "FAIL private: a call without a token got 200, not 401/403: the revision is public "
        "(docs/deployment.md, 'Public or private')"
    ]


def test_the_id_token_comes_from_the_metadata_server_for_the_audience(server, metadata) -> None:
    host, handler = metadata
    audience = "https://soulsync-model-endpoint-123.asia-southeast2.run.app"
    result = run_smoke(server.base, "--id-token-audience", audience, GCE_METADATA_HOST=host)
    assert result.returncode == 0, result.stdout
    path, headers = handler.requests[0]
    url = urllib.parse.urlsplit(path)
    assert url.path == "/computeMetadata/v1/instance/service-accounts/default/identity"
    assert urllib.parse.parse_qs(url.query) == {"audience": [audience]}
    assert headers["Metadata-Flavor"] == "Google"


def test_no_id_token_fails_with_the_role_to_grant(server, metadata) -> None:
    host, handler = metadata
    handler.status = 403
    result = run_smoke(
        server.base, "--id-token-audience", "https://x.run.app", GCE_METADATA_HOST=host
    )
    assert result.returncode == 1
    [line] = failures(result)
    assert line.startswith("FAIL authentication: no ID token (the metadata server at")
    assert "roles/iam.serviceAccountOpenIdTokenCreator" in line


def test_a_server_that_never_answers_fails_readiness_and_stops() -> None:
    base = f"http://127.0.0.1:{free_port()}"
    result = run_smoke(base, "--wait", "1")
    assert result.returncode == 1
    assert failures(result)[0].startswith("FAIL readiness: GET / did not answer in 1 s")
    assert len(failures(result)) == 1
