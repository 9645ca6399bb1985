"""cloudbuild.yaml: tests gate everything, one image goes from build to deploy, and every
substitution it uses has a default."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILT_IN = {
    "PROJECT_ID",
    "COMMIT_SHA",
    "SHORT_SHA",
    "BUILD_ID",
    "LOCATION",
    "REPO_NAME",
    "BRANCH_NAME",
    "TAG_NAME",
    "REVISION_ID",
    "PROJECT_NUMBER",
    "SERVICE_ACCOUNT",
}


@pytest.fixture(scope="module")
def build() -> dict:
    return yaml.safe_load((ROOT / "cloudbuild.yaml").read_text(encoding="utf-8"))


def test_steps_run_in_order(build: dict) -> None:
    assert [step["id"] for step in build["steps"]] == [
        "test",
        "build",
        "push",
        "deploy",
        "smoke-test",
    ]
    # No step may start early: waitFor would let build or push run beside the tests.
    assert all("waitFor" not in step for step in build["steps"])


def test_tests_run_the_same_gate_as_ci(build: dict) -> None:
    """Cloud Build's test step runs .ci/run, and .ci/run runs the README's test command."""
    script = build["steps"][0]["args"][-1]
    assert script.strip().splitlines()[-1] == "bash .ci/run"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.strip().splitlines()[-1] == "make test"
    assert "\n    make test " in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_substitution_used_is_defined(build: dict) -> None:
    text = (ROOT / "cloudbuild.yaml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(_[A-Z0-9_]+)\}", text))
    assert used <= set(build["substitutions"]), used - set(build["substitutions"])
    for name in re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)\}", text):
        assert name in BUILT_IN, name
    for name in (
        "_REGION",
        "_SERVICE",
        "_REPOSITORY",
        "_CPU",
        "_MEMORY",
        "_CONCURRENCY",
        "_MIN_INSTANCES",
        "_MAX_INSTANCES",
        "_ALLOW_UNAUTHENTICATED",
    ):
        assert name in build["substitutions"], name
    assert build["substitutions"]["_REGION"] == "asia-southeast2"
    assert build["substitutions"]["_SERVICE"] == "soulsync-model-endpoint"


def test_build_push_and_deploy_name_the_same_image(build: dict) -> None:
    steps = {step["id"]: step for step in build["steps"]}
    image = "${_IMAGE}:${COMMIT_SHA}"
    assert f"--tag={image}" in steps["build"]["args"]
    assert "--tag=${_IMAGE}:latest" in steps["build"]["args"]
    assert steps["push"]["args"] == ["push", "--all-tags", "${_IMAGE}"]
    assert f"image: {image}" in steps["deploy"]["args"][-1]
    assert "docker.pkg.dev" in build["substitutions"]["_IMAGE"]  # Artifact Registry


def rendered_manifest(build: dict, **substitutions: str) -> dict:
    """The service manifest that the deploy step writes, with these substitutions: the step's
    script run by bash up to the gcloud call, as Cloud Build would run it."""
    script = next(s for s in build["steps"] if s["id"] == "deploy")["args"][-1]
    values = {**build["substitutions"], "COMMIT_SHA": "0" * 40, "PROJECT_ID": "project"}
    values |= substitutions
    for _ in range(3):  # substitutions that name substitutions
        script = re.sub(r"(?<!\$)\$\{(_?[A-Z][A-Z0-9_]*)\}", lambda m: values[m[1]], script)
    script = script.replace("$$", "$").split("gcloud run services replace")[0]
    with tempfile.TemporaryDirectory() as folder:
        script = script.replace("/workspace", folder) + f"\ncat {folder}/service.yaml\n"
        result = subprocess.run(["bash", "-euc", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_deploy_sets_probes_and_resources(build: dict) -> None:
    manifest = rendered_manifest(build)
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    limits = {"cpu": build["substitutions"]["_CPU"], "memory": build["substitutions"]["_MEMORY"]}
    assert container["resources"]["limits"] == limits


def test_the_metrics_sidecar_is_off_by_default_and_ready_behind_a_substitution(
    build: dict,
) -> None:
    assert build["substitutions"]["_METRICS_SIDECAR"] == "false"
    plain = rendered_manifest(build)["spec"]["template"]
    assert [c["name"] for c in plain["spec"]["containers"]] == ["service"]
    with_sidecar = rendered_manifest(build, _METRICS_SIDECAR="true")["spec"]["template"]
    containers = with_sidecar["spec"]["containers"]
    assert [c["name"] for c in containers] == ["service", "collector"]
    assert containers[1]["volumeMounts"][0]["name"] == with_sidecar["spec"]["volumes"][0]["name"]
    assert (
        "collector"
        in with_sidecar["metadata"]["annotations"]["run.googleapis.com/container-dependencies"]
    )


def test_cloud_run_size_is_small(build: dict) -> None:
    assert float(build["substitutions"]["_CPU"]) <= 1
    memory = build["substitutions"]["_MEMORY"]
    assert memory.endswith("Mi") and int(memory[:-2]) <= 512
