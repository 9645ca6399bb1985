"""scripts/release.py, run as cloudbuild.yaml's deploy, smoke and promote steps run it, against a
gcloud stand-in that answers from a script and records every call: what reaches Cloud Run (the
manifest, each traffic move) and what never does (no traffic before the checks, no older
commit promoted, no promotion over a rollback, traffic back when errors rise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.fake_cloud import (
    NEW,
    NEW_TAG,
    REGION,
    SERVICE,
    FakeCloud,
    labels,
    revisions,
    service,
)
from tests.scripts import release, smoke

OLD = f"{SERVICE}-aaaaaaa-11111111"
OLDER = f"{SERVICE}-bbbbbbb-22222222"
URL = "https://soulsync-model-endpoint-123.asia-southeast2.run.app"
TAG_URL = f"https://{NEW_TAG}---soulsync-model-endpoint-123.asia-southeast2.run.app"
MODEL = smoke.load_expected(smoke.EXPECTED)["model_version"]
#: Commit times: the serving revision's, and this build's (a later commit).
THEN, NOW = 1_700_000_000, 1_700_000_500


@pytest.fixture
def cloud(tmp_path: Path) -> FakeCloud:
    return FakeCloud(tmp_path)


def serving_old(*extra: dict) -> list[dict]:
    """OLD with all traffic, tagged current; OLDER tagged previous; and `extra` entries."""
    return [
        {"revisionName": OLD, "percent": 100, "latestRevision": False},
        {"revisionName": OLD, "tag": "current", "url": "https://current---x.run.app"},
        {"revisionName": OLDER, "tag": "previous", "url": "https://previous---x.run.app"},
        *extra,
    ]


def after_deploy(traffic: list[dict]) -> dict:
    return service([*traffic, {"revisionName": NEW, "tag": NEW_TAG, "url": TAG_URL}], URL)


def deploy_replies(traffic: list[dict], public: list[str] = (), new_model: str = MODEL) -> dict:
    return {
        "run services describe": [service(traffic, URL), after_deploy(traffic)],
        "run revisions list": [
            revisions({OLD: labels(THEN), OLDER: labels(THEN - 100), NEW: labels(NOW, new_model)})
        ],
        "run services get-iam-policy": [
            {"bindings": [{"role": "roles/run.invoker", "members": list(public)}]}
        ],
    }


def deployed_manifest(cloud: FakeCloud) -> dict:
    [call] = cloud.calls("run", "services", "replace")
    assert f"--region={REGION}" in call["argv"]
    return yaml.safe_load(call["manifest"])


def test_deploy_adds_the_revision_with_no_traffic_and_keeps_what_the_service_has(cloud) -> None:
    split_by_hand = {"revisionName": OLDER, "tag": "canary", "url": "https://canary---x"}
    cloud.replies(deploy_replies(serving_old(split_by_hand)))

    result = cloud.run_step("deploy", _COMMIT_TIME=str(NOW))

    assert result.returncode == 0, result.stdout + result.stderr
    traffic = deployed_manifest(cloud)["spec"]["traffic"]
    assert traffic == [
        {"revisionName": OLD, "percent": 100},
        {"revisionName": OLD, "percent": 0, "tag": "current"},
        {"revisionName": OLDER, "percent": 0, "tag": "previous"},
        {"revisionName": OLDER, "percent": 0, "tag": "canary"},
        {"revisionName": NEW, "percent": 0, "tag": NEW_TAG},
    ]
    assert cloud.state()["url"] == TAG_URL and cloud.state()["service_url"] == URL
    assert cloud.calls("run", "services", "update-traffic") == []


def test_deploy_pins_a_target_that_follows_the_latest_revision(cloud) -> None:
    """A service made by hand (`gcloud run deploy`) sends traffic to the latest revision: kept
    as it is, the new revision would get it all at once."""
    latest = [{"latestRevision": True, "percent": 100, "revisionName": OLD}]
    cloud.replies(deploy_replies(latest))
    assert cloud.run_step("deploy", _COMMIT_TIME=str(NOW)).returncode == 0
    traffic = deployed_manifest(cloud)["spec"]["traffic"]
    assert traffic[0] == {"revisionName": OLD, "percent": 100}
    assert all("latestRevision" not in target for target in traffic)


def test_deploy_drops_the_tags_of_older_candidates_only(cloud) -> None:
    stale = {"revisionName": OLDER, "tag": "candidate-bbbbbbb", "url": "https://c---x"}
    newer = {"revisionName": "newer-rev", "tag": "candidate-ccccccc", "url": "https://d---x"}
    replies = deploy_replies(serving_old(stale, newer))
    replies["run revisions list"][0].append(
        {"metadata": {"name": "newer-rev", "labels": labels(NOW + 1)}}
    )
    cloud.replies(replies)
    assert cloud.run_step("deploy", _COMMIT_TIME=str(NOW)).returncode == 0
    tags = [t.get("tag") for t in deployed_manifest(cloud)["spec"]["traffic"]]
    assert "candidate-bbbbbbb" not in tags and "candidate-ccccccc" in tags


def test_a_first_deploy_has_nothing_to_keep(cloud) -> None:
    not_found = {"stderr": f"ERROR: Cannot find service [{SERVICE}]", "code": 1}
    cloud.replies(
        {
            "run services describe": [
                not_found,
                after_deploy([{"revisionName": NEW, "percent": 100}]),
            ]
        }
    )
    result = cloud.run_step("deploy", _COMMIT_TIME=str(NOW))
    assert result.returncode == 0, result.stdout
    assert deployed_manifest(cloud)["spec"]["traffic"] == [
        {"revisionName": NEW, "percent": 100, "tag": NEW_TAG}
    ]


def test_an_older_commit_deploys_nothing_and_promotes_nothing(cloud) -> None:
    cloud.replies(deploy_replies(serving_old()))
    deploy = cloud.run_step("deploy", _COMMIT_TIME=str(THEN - 1))
    smoke = cloud.run_step("smoke")
    promote = cloud.run_step("promote")

    assert [deploy.returncode, smoke.returncode, promote.returncode] == [0, 0, 0]
    assert f"is older than the one {OLD} serves" in deploy.stdout
    assert cloud.calls("run", "services", "replace") == []
    assert cloud.calls("run", "services", "update-traffic") == []


def test_a_public_binding_left_behind_stops_a_private_deploy(cloud) -> None:
    cloud.replies(deploy_replies(serving_old(), public=["allUsers", "user:a@example.com"]))
    result = cloud.run_step("deploy", _COMMIT_TIME=str(NOW))
    assert result.returncode == 1
    assert "FAIL deploy: the service is public: roles/run.invoker is granted to allUsers" in (
        result.stdout
    )
    assert "remove-iam-policy-binding soulsync-model-endpoint" in result.stdout
    assert cloud.calls("run", "services", "replace") == []


def test_the_public_mode_needs_no_binding_and_is_an_annotation(cloud) -> None:
    cloud.replies(deploy_replies(serving_old()))
    assert cloud.run_step("deploy", _COMMIT_TIME=str(NOW), _PUBLIC="true").returncode == 0
    manifest = deployed_manifest(cloud)
    assert manifest["metadata"]["annotations"] == {
        "run.googleapis.com/invoker-iam-disabled": "true"
    }
    assert cloud.calls("run", "services", "get-iam-policy") == []


def promote_replies(old_model: str = MODEL, errors: list[list[dict]] = ()) -> dict:
    traffic = [*serving_old(), {"revisionName": NEW, "tag": NEW_TAG, "url": TAG_URL}]
    return {
        "run services describe": [service(traffic, URL)],
        "run revisions list": [
            revisions({OLD: labels(THEN, old_model), OLDER: labels(THEN - 100), NEW: labels(NOW)})
        ],
        "logging read": list(errors) or [[]],
    }


def deployed_state(cloud: FakeCloud) -> None:
    (cloud.workspace / "release-state.json").write_text(
        json.dumps({"revision": NEW, "tag": NEW_TAG, "url": TAG_URL, "service_url": URL})
    )


def traffic_moves(cloud: FakeCloud) -> list[list[str]]:
    return [
        [arg for arg in call["argv"] if arg.startswith(("--to-", "--update-tags"))]
        for call in cloud.calls("run", "services", "update-traffic")
    ]


def test_the_same_model_moves_all_traffic_at_once_and_prints_the_rollback(cloud) -> None:
    deployed_state(cloud)
    cloud.replies(promote_replies())
    result = cloud.run_step("promote")
    assert result.returncode == 0, result.stdout
    assert traffic_moves(cloud) == [
        [f"--to-revisions={NEW}=100", f"--update-tags=current={NEW},previous={OLD}"]
    ]
    rollback = (
        f"make rollback  (gcloud run services update-traffic {SERVICE} --region={REGION} "
        "--project=soulsync-project --to-tags=previous=100)"
    )
    assert result.stdout.count(rollback) == 2  # before the first move, and at the end


def request_log(ok: int, failed: int) -> list[dict]:
    return [{"httpRequest": {"status": 200}}] * ok + [{"httpRequest": {"status": 503}}] * failed


def test_a_new_model_moves_traffic_in_steps_checking_errors_between(cloud) -> None:
    deployed_state(cloud)
    cloud.replies(promote_replies("0ldm0del0000", [request_log(99, 1), request_log(500, 2)]))
    result = cloud.run_step("promote", _ROLLOUT_SOAK_SECONDS="0")
    assert result.returncode == 0, result.stdout
    assert traffic_moves(cloud) == [
        [f"--to-revisions={NEW}=10,{OLD}=90", f"--update-tags=previous={OLD}"],
        [f"--to-revisions={NEW}=50,{OLD}=50", f"--update-tags=previous={OLD}"],
        [f"--to-revisions={NEW}=100", f"--update-tags=current={NEW},previous={OLD}"],
    ]
    [query, *_] = [c["argv"][2] for c in cloud.calls("logging", "read")]
    assert f'resource.labels.revision_name="{NEW}"' in query
    assert "run.googleapis.com%2Frequests" in query
    assert "1 of 100 requests answered 5xx (1.00%)" in result.stdout


def test_errors_above_the_limit_send_traffic_back_and_fail(cloud) -> None:
    deployed_state(cloud)
    cloud.replies(promote_replies("0ldm0del0000", [request_log(90, 10)]))
    result = cloud.run_step("promote", _ROLLOUT_SOAK_SECONDS="0")
    assert result.returncode == 1
    assert traffic_moves(cloud) == [
        [f"--to-revisions={NEW}=10,{OLD}=90", f"--update-tags=previous={OLD}"],
        [f"--to-revisions={OLD}=100"],
    ]
    assert f"ROLLED BACK: 10.00% of its requests failed, above 2.00%; {OLD}" in result.stdout


def test_a_rolled_back_service_is_held_until_someone_promotes(cloud) -> None:
    rolled_back = [
        {"revisionName": OLDER, "percent": 100},
        {"revisionName": OLD, "tag": "current", "url": "https://current---x"},
        {"revisionName": OLDER, "tag": "previous", "url": "https://previous---x"},
        {"revisionName": NEW, "tag": NEW_TAG, "url": TAG_URL},
    ]
    deployed_state(cloud)
    replies = promote_replies()
    replies["run services describe"] = [service(rolled_back, URL)]
    cloud.replies(replies)

    result = cloud.run_step("promote")

    assert result.returncode == 1
    assert "NOT PROMOTED: traffic is on" in result.stdout
    assert f"make promote REVISION={NEW}" in result.stdout
    assert cloud.calls("run", "services", "update-traffic") == []


def test_rollback_sends_everything_to_the_previous_tag(cloud) -> None:
    cloud.replies({"run services describe": [service(serving_old(), URL)]})
    result = cloud.run_script("scripts/release.py", "rollback")
    assert result.returncode == 0, result.stdout
    assert traffic_moves(cloud) == [["--to-tags=previous=100"]]
    assert f"{OLDER} serves all traffic" in result.stdout


def test_rollback_without_a_previous_revision_says_so(cloud) -> None:
    cloud.replies({"run services describe": [service([{"revisionName": OLD, "percent": 100}])]})
    result = cloud.run_script("scripts/release.py", "rollback")
    assert result.returncode == 1
    assert "FAIL rollback: no revision is tagged previous" in result.stdout
    assert cloud.calls("run", "services", "update-traffic") == []


def test_held_because_names_a_split_and_a_rollback() -> None:
    entries = release.traffic_entries(service(serving_old()))
    assert release.held_because(entries) is None
    split = [{"revisionName": OLD, "percent": 90}, {"revisionName": OLDER, "percent": 10}]
    assert "split by hand" in release.held_because(release.traffic_entries(service(split)))


def test_a_tag_on_the_serving_entry_itself_counts() -> None:
    """Cloud Run may report a revision's traffic and its tag in one entry."""
    one_entry = [{"revisionName": OLD, "percent": 100, "tag": "current"}]
    entries = release.traffic_entries(service(one_entry))
    assert release.held_because(entries) is None
    assert release.tagged(entries, "current") == OLD


def test_a_smoke_step_without_a_deploy_says_so(cloud) -> None:
    result = cloud.run_step("smoke")
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL smoke: [Errno 2] No such file or directory")
    assert "Traceback" not in result.stderr
