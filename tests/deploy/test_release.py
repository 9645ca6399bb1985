"""The release step (deploy/release.py, as cloudbuild.yaml runs it) and `make rollback`
(deploy/rollback.py), against a gcloud stand-in that answers from a script and records every
call: what reaches Cloud Deploy, in which order, and what never does (an older commit's release;
a rollback before what is in flight is cancelled)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploy import render, smoke
from tests.support.fake_cloud import (
    BUILT_IN,
    PIPELINE_REGION,
    RELEASE,
    SERVICE,
    FakeCloud,
    release,
    rollout,
)

DIGEST = (
    "asia-southeast2-docker.pkg.dev/soulsync-project/soulsync/soulsync-model-endpoint@sha256:"
    + ("ab" * 32)
)
#: This build's commit time.
NOW = 1_700_000_500
MODEL = smoke.load_expected(smoke.EXPECTED)["model_version"]
WHERE = [
    f"--delivery-pipeline={SERVICE}",
    f"--region={PIPELINE_REGION}",
    "--project=soulsync-project",
]


@pytest.fixture
def cloud(tmp_path: Path) -> FakeCloud:
    found = FakeCloud(tmp_path)
    (found.workspace / "image.txt").write_text(DIGEST + "\n")
    return found


def test_the_release_step_creates_the_release_with_the_image_by_digest(cloud) -> None:
    cloud.replies({"deploy releases list": [[release("r-older", NOW - 100), release("manual")]]})

    result = cloud.run_step("release", _COMMIT_TIME=str(NOW))

    assert result.returncode == 0, result.stdout + result.stderr
    [listed, created] = cloud.calls()
    assert listed["argv"][:3] == ["deploy", "releases", "list"]
    argv = created["argv"]
    assert argv[:4] == ["deploy", "releases", "create", RELEASE]
    assert set(WHERE) <= set(argv)
    assert f"--images={render.IMAGE}={DIGEST}" in argv
    assert "--source=release" in argv
    assert "--gcs-source-staging-dir=gs://soulsync-project-clouddeploy-source/source" in argv
    labels = next(a for a in argv if a.startswith("--labels=")).removeprefix("--labels=")
    assert dict(pair.split("=") for pair in labels.split(",")) == {
        "commit-sha": BUILT_IN["COMMIT_SHA"],
        "commit-time": str(NOW),
        "model-version": MODEL,
    }
    assert set(created["source"]) == {"service.yaml", "skaffold.yaml"}
    skaffold = Path(__file__).resolve().parents[2] / "deploy" / "skaffold.yaml"
    assert created["source"]["skaffold.yaml"] == skaffold.read_text(encoding="utf-8")
    service = yaml.safe_load(created["source"]["service.yaml"])
    assert service["spec"]["template"]["spec"]["containers"][0]["image"] == render.IMAGE
    assert service["spec"]["template"]["metadata"]["labels"]["commit-time"] == str(NOW)


def test_an_older_commit_creates_no_release(cloud) -> None:
    """Two pushes close together may finish out of order: the older one must not become the
    newest release."""
    cloud.replies({"deploy releases list": [[release("r-newer", NOW + 1)]]})

    result = cloud.run_step("release", _COMMIT_TIME=str(NOW))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no release: commit 0123456 is older than the one release r-newer carries" in (
        result.stdout
    )
    assert cloud.calls("deploy", "releases", "create") == []


def test_the_same_commit_may_be_released_again(cloud) -> None:
    cloud.replies({"deploy releases list": [[release("r-same", NOW)]]})
    assert cloud.run_step("release", _COMMIT_TIME=str(NOW)).returncode == 0
    assert len(cloud.calls("deploy", "releases", "create")) == 1


def test_an_image_not_by_digest_stops_the_release(cloud) -> None:
    (cloud.workspace / "image.txt").write_text("example/soulsync:latest\n")
    result = cloud.run_step("release", _COMMIT_TIME=str(NOW))
    assert result.returncode == 1
    assert "not an image by digest" in result.stdout
    assert cloud.calls() == []


def test_a_bad_setting_stops_the_release_naming_it(cloud) -> None:
    result = cloud.run_step("release", _COMMIT_TIME=str(NOW), _API_KEYS_VERSION="latest")
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL release: _API_KEYS_VERSION: 'latest'")
    assert "Traceback" not in result.stderr and cloud.calls() == []


def test_a_failed_create_fails_the_step(cloud) -> None:
    cloud.replies(
        {
            "deploy releases list": [[]],
            "deploy releases create": [{"stderr": "ERROR: PERMISSION_DENIED", "code": 1}],
        }
    )
    result = cloud.run_step("release", _COMMIT_TIME=str(NOW))
    assert result.returncode == 1
    assert "FAIL release: gcloud deploy releases create failed: ERROR: PERMISSION_DENIED" in (
        result.stdout
    )


def rollback_replies(*rollouts_by_release: list[dict]) -> dict:
    names = [f"r-{i}" for i in range(len(rollouts_by_release))]
    return {
        "deploy releases list": [[release(name) for name in names]],
        "deploy rollouts list": list(rollouts_by_release),
    }


def commands(cloud: FakeCloud) -> list[list[str]]:
    return [[w for w in c["argv"] if not w.startswith("--")][:4] for c in cloud.calls()]


def test_make_rollback_cancels_what_is_in_flight_first_then_goes_back_to_the_last_good(
    cloud,
) -> None:
    in_flight = rollout("r-0", "r-0-to-prod-0001", "IN_PROGRESS", "2026-12-02T10:00:00Z")
    queued = rollout("r-1", "r-1-to-prod-0001", "PENDING", "2026-12-02T10:05:00Z")
    good = rollout("r-2", "r-2-to-prod-0001", "SUCCEEDED", "2026-12-01T10:00:00Z")
    staging = rollout(
        "r-1", "r-1-to-staging-0001", "IN_PROGRESS", "2026-12-02T10:04:00Z", "staging"
    )
    cloud.replies(rollback_replies([in_flight], [queued, staging], [good]))

    result = cloud.make("rollback", "PROJECT=soulsync-project")

    assert result.returncode == 0, result.stdout + result.stderr
    assert commands(cloud) == [
        ["deploy", "releases", "list"],
        ["deploy", "rollouts", "list"],
        ["deploy", "rollouts", "list"],
        ["deploy", "rollouts", "list"],
        ["deploy", "rollouts", "cancel", "r-1-to-prod-0001"],
        ["deploy", "rollouts", "cancel", "r-0-to-prod-0001"],
        ["deploy", "targets", "rollback", "prod"],
    ]
    [rollback] = cloud.calls("deploy", "targets", "rollback")
    assert f"--rollback-of-rollout={queued['name']}" in rollback["argv"]
    assert "--release=r-2" in rollback["argv"]
    assert set(WHERE) <= set(rollback["argv"])
    cancels = cloud.calls("deploy", "rollouts", "cancel")
    assert [next(a for a in c["argv"] if a.startswith("--release=")) for c in cancels] == [
        "--release=r-1",
        "--release=r-0",
    ]


def test_make_rollback_with_nothing_in_flight_goes_to_the_release_before(cloud) -> None:
    current = rollout("r-0", "r-0-to-prod-0001", "SUCCEEDED", "2026-12-02T10:00:00Z")
    before = rollout("r-1", "r-1-to-prod-0001", "SUCCEEDED", "2026-12-01T10:00:00Z")
    cloud.replies(rollback_replies([current], [before]))

    result = cloud.make("rollback", "PROJECT=soulsync-project")

    assert result.returncode == 0, result.stdout + result.stderr
    assert cloud.calls("deploy", "rollouts", "cancel") == []
    [rollback] = cloud.calls("deploy", "targets", "rollback")
    assert f"--rollback-of-rollout={current['name']}" in rollback["argv"]
    assert not any(a.startswith("--release=") for a in rollback["argv"])


def test_make_rollback_stops_when_a_cancel_fails(cloud) -> None:
    in_flight = rollout("r-0", "r-0-to-prod-0001", "IN_PROGRESS", "2026-12-02T10:00:00Z")
    good = rollout("r-1", "r-1-to-prod-0001", "SUCCEEDED", "2026-12-01T10:00:00Z")
    replies = rollback_replies([in_flight], [good])
    replies["deploy rollouts cancel"] = [{"stderr": "ERROR: PERMISSION_DENIED", "code": 1}]
    cloud.replies(replies)

    result = cloud.make("rollback", "PROJECT=soulsync-project")

    assert result.returncode != 0
    assert "FAIL rollback: gcloud deploy rollouts cancel failed" in result.stdout
    assert cloud.calls("deploy", "targets", "rollback") == []


def test_make_rollback_without_a_good_release_says_so(cloud) -> None:
    failed = rollout("r-0", "r-0-to-prod-0001", "FAILED", "2026-12-02T10:00:00Z")
    cloud.replies(rollback_replies([failed]))
    result = cloud.make("rollback", "PROJECT=soulsync-project")
    assert result.returncode != 0
    assert "no rollout ever completed on prod" in result.stdout
    assert cloud.calls("deploy", "targets", "rollback") == []
