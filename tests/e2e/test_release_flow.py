"""cloudbuild.yaml's release steps in order, as Cloud Build runs them (each only after the one
before succeeded), against the service under gunicorn standing in for the new revision's tag
URL and a gcloud stand-in for Cloud Run: a revision that answers as this build's model must
gets the traffic, after its smoke test; one that does not never gets any."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.fake_cloud import NEW, NEW_TAG, SERVICE, FakeCloud, labels, revisions, service

ROOT = Path(__file__).resolve().parents[2]
OLD = f"{SERVICE}-aaaaaaa-11111111"
URL = "https://soulsync-model-endpoint-123.asia-southeast2.run.app"


def release(
    cloud: FakeCloud, tag_url: str, **substitutions: str
) -> dict[str, subprocess.CompletedProcess]:
    """deploy, smoke, promote, stopping at the first that fails; the stand-in gives the new
    revision's tag the URL `tag_url`."""
    serving = [{"revisionName": OLD, "percent": 100}]
    cloud.replies(
        {
            "run services describe": [
                service(serving, URL),
                service([*serving, {"revisionName": NEW, "tag": NEW_TAG, "url": tag_url}], URL),
            ],
            "run revisions list": [
                revisions({OLD: labels(1_700_000_000), NEW: labels(1_700_000_500)})
            ],
            "run services get-iam-policy": [{"bindings": []}],
            "secrets versions access": [{"stdout": "smoke-key,other-key\n"}],
        }
    )
    results = {}
    for step in ("deploy", "smoke", "promote"):
        results[step] = cloud.run_step(step, _COMMIT_TIME="1700000500", **substitutions)
        if results[step].returncode:
            break
    return results


def moves(cloud: FakeCloud) -> list[str]:
    return [" ".join(c["argv"][3:]) for c in cloud.calls("run", "services", "update-traffic")]


def test_a_revision_that_passes_its_smoke_test_gets_the_traffic(server, tmp_path: Path) -> None:
    cloud = FakeCloud(tmp_path)
    results = release(cloud, server.base, _PUBLIC="true")
    assert {step: r.returncode for step, r in results.items()} == {
        "deploy": 0,
        "smoke": 0,
        "promote": 0,
    }, {step: r.stdout + r.stderr for step, r in results.items()}
    assert f"smoke {server.base}: PASS" in results["smoke"].stdout
    [manifest] = cloud.calls("run", "services", "replace")
    assert f'revisionName: "{NEW}"\n      percent: 0\n' in manifest["manifest"]
    assert len(moves(cloud)) == 1 and f"--to-revisions={NEW}=100" in moves(cloud)[0]


def test_a_revision_with_a_moved_threshold_never_gets_traffic(start_server, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(ROOT / "soulsync" / "model", model)
    card = json.loads((model / "model_card.json").read_text(encoding="utf-8"))
    card["decision"]["groups"]["students"]["threshold"] += 0.05
    (model / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    changed = start_server(SOULSYNC_MODEL_PATH=str(model / "model.tflite"))
    cloud = FakeCloud(tmp_path / "cloud")

    results = release(cloud, changed.base, _PUBLIC="true")

    assert [step for step in results] == ["deploy", "smoke"]  # the build stops at the smoke
    assert results["smoke"].returncode == 1
    assert "FAIL expected answers" in results["smoke"].stdout
    assert f"{NEW} keeps 0 % of the traffic" in results["smoke"].stdout
    assert moves(cloud) == []  # the old revision keeps everything


def test_a_private_revision_is_called_with_a_token_and_the_key(
    start_server, metadata, tmp_path: Path, monkeypatch
) -> None:
    """Keys on, private: the smoke test reads the pinned key version, asks the metadata server
    for an ID token for the service's URL, and checks that a call without one is refused.
    gunicorn here has no Cloud Run in front, so that last check fails, as it must."""
    host, handler = metadata
    monkeypatch.setenv("GCE_METADATA_HOST", host)
    keyed = start_server(SOULSYNC_API_KEYS="smoke-key")
    cloud = FakeCloud(tmp_path)

    results = release(cloud, keyed.base, _API_KEYS_VERSION="4")

    smoke = results["smoke"]
    assert smoke.returncode == 1
    failed = [line for line in smoke.stdout.splitlines() if line.startswith("FAIL")]
    assert failed == [
        "FAIL private: a call without a token got 200, not 401/403: the revision is public "
        "(docs/deployment.md, 'Public or private')"
    ]
    assert "ok   model version" in smoke.stdout  # GET /model needs the key: it was sent
    [access] = cloud.calls("secrets", "versions", "access")
    assert access["argv"][3] == "4" and "--secret=soulsync-api-keys" in access["argv"]
    assert "smoke-key" not in smoke.stdout + smoke.stderr
    assert "audience=" + URL.replace(":", "%3A").replace("/", "%2F") in handler.requests[0][0]
    assert moves(cloud) == []
