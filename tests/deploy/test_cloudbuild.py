"""cloudbuild.yaml and the service file its release step writes: tests gate everything, one image
goes from build to release by digest, every substitution has a default and reaches the release
step, one Python everywhere, and the service file holds everything the service runs with, with
what Cloud Deploy fills in left open (image, per-target values, traffic, revision name)."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from deploy import render, smoke
from tests.support.cloud_run_types import service_problems
from tests.support.fake_cloud import BUILD, BUILT_IN, ROOT, step, step_environment, substitute

SUBSTITUTIONS = BUILD["substitutions"]
#: Substitutions that only cloudbuild.yaml itself uses.
BUILD_ONLY = {"_REGION", "_REPOSITORY", "_IMAGE", "_PYTHON_IMAGE", "_DEPLOYER_ACCOUNT"}
CLOUD_BUILD_BUILT_IN = {
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
MODEL = smoke.load_expected(smoke.EXPECTED)["model_version"]


def test_steps_run_in_order_and_end_with_the_release() -> None:
    assert [s["id"] for s in BUILD["steps"]] == ["test", "build", "push", "release"]
    # No step may start early: waitFor would let one run beside the step it must follow.
    assert all("waitFor" not in s for s in BUILD["steps"])
    assert step("release")["args"] == ["-m", "deploy.release", "--image-file=image.txt"]
    assert "gcloud run" not in (ROOT / "cloudbuild.yaml").read_text(encoding="utf-8")


def test_tests_run_the_same_gate_as_ci_with_curl() -> None:
    """Cloud Build's test step runs .ci/run, and .ci/run runs the README's test command; curl
    is there for the README's examples."""
    script = step("test")["args"][-1].strip().splitlines()
    assert script[-1] == "bash .ci/run"
    assert re.search(r"apt-get install .*\bmake curl\b", script[0])
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.strip().splitlines()[-1] == "make test"
    assert "\n    make test " in (ROOT / "README.md").read_text(encoding="utf-8")


def test_one_python_in_every_gate() -> None:
    """The lock's Python (pyproject's ruff target) is Cloud Build's test image, the image's
    default base, the container check's, and GitHub's."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    version = pyproject["tool"]["ruff"]["target-version"].removeprefix("py")
    python = f"{version[0]}.{version[1:]}"
    assert SUBSTITUTIONS["_PYTHON_IMAGE"] == f"python:{python}-slim"
    assert step("test")["name"] == "${_PYTHON_IMAGE}"
    assert step("build")["args"][1] == "--build-arg=PYTHON_IMAGE=${_PYTHON_IMAGE}"
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"ARG PYTHON_IMAGE=python:{python}-slim\n" in dockerfile
    container_test = (ROOT / "scripts" / "container-test.sh").read_text(encoding="utf-8")
    assert container_test.count(f"${{PYTHON_IMAGE:-python:{python}-slim}}") == 2
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "test.yml").read_text())
    setup = next(
        s for s in workflow["jobs"]["test"]["steps"] if "setup-python" in s.get("uses", "")
    )
    assert setup["with"]["python-version"] == python


def test_every_substitution_is_defined_used_and_reaches_the_release() -> None:
    text = (ROOT / "cloudbuild.yaml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(_[A-Z0-9_]+)\}", text))
    assert used == set(SUBSTITUTIONS), used ^ set(SUBSTITUTIONS)
    for name in re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)\}", text):
        assert name in CLOUD_BUILD_BUILT_IN, name
    passed = {entry.split("=", 1)[0] for entry in BUILD["options"]["env"]}
    assert passed == (set(SUBSTITUTIONS) - BUILD_ONLY) | set(BUILT_IN)
    for entry in BUILD["options"]["env"]:
        name, value = entry.split("=", 1)
        assert value == f"${{{name}}}", entry


def test_the_makefile_reads_regions_service_and_deployer_from_here() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for variable, name in (
        ("REGION", "_REGION"),
        ("PIPELINE_REGION", "_PIPELINE_REGION"),
        ("SERVICE", "_SERVICE"),
        ("DEPLOYER", "_DEPLOYER_ACCOUNT"),
    ):
        assert re.search(rf"^{variable} +\?= \$\(call substitution,{name}\)$", makefile, re.M)
    assert re.search(r"^TRIGGER_REGION +\?= global$", makefile, re.M)


def test_the_build_runs_as_the_deployer_and_logs_to_cloud_logging() -> None:
    values = {**SUBSTITUTIONS, **BUILT_IN}
    assert substitute(BUILD["serviceAccount"], values) == (
        "projects/soulsync-project/serviceAccounts/"
        "soulsync-deployer@soulsync-project.iam.gserviceaccount.com"
    )
    assert BUILD["options"]["logging"] == "CLOUD_LOGGING_ONLY"
    assert BUILD["options"]["dynamicSubstitutions"] is True


def test_build_and_push_name_the_same_image_and_push_writes_its_digest() -> None:
    image = "${_IMAGE}:${COMMIT_SHA}"
    assert f"--tag={image}" in step("build")["args"]
    push = step("push")["args"][-1]
    assert f'docker push "{image}"' in push
    assert "{{index .RepoDigests 0}}" in push and push.strip().endswith("> image.txt")
    assert "docker.pkg.dev" in SUBSTITUTIONS["_IMAGE"]  # Artifact Registry


def rendered(**substitutions: str) -> dict:
    """The service file the release step would write, parsed back from its YAML text."""
    settings = render.Release.from_environment(
        step_environment(**substitutions), 1_700_000_000, MODEL
    )
    document = render.service_document(settings)
    text = render.to_yaml(document)
    parsed = yaml.safe_load(text)
    return parsed


def test_the_service_file_holds_what_the_service_runs_with() -> None:
    service = rendered()
    template = service["spec"]["template"]
    container = template["spec"]["containers"][0]
    assert container["image"] == render.IMAGE  # the release puts the pushed digest there
    assert template["spec"]["serviceAccountName"] == (
        "soulsync-runtime@soulsync-project.iam.gserviceaccount.com"
    )
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env == {
        "SOULSYNC_GCP_PROJECT": "soulsync-project",
        "WEB_CONCURRENCY": SUBSTITUTIONS["_WORKERS"],
        "GUNICORN_WORKER_CONNECTIONS": SUBSTITUTIONS["_WORKER_CONNECTIONS"],
    }
    assert container["startupProbe"]["httpGet"] == {"path": "/readyz", "port": 8080}
    assert (
        container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"]
        == 30
    )
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    limits = {"cpu": SUBSTITUTIONS["_CPU"], "memory": SUBSTITUTIONS["_MEMORY"]}
    assert container["resources"]["limits"] == limits
    assert template["metadata"]["labels"] == {
        "commit-sha": BUILT_IN["COMMIT_SHA"],
        "commit-time": "1700000000",
        "model-version": MODEL,
    }


def test_cloud_deploy_owns_traffic_and_revision_names() -> None:
    """No traffic stanza (Cloud Deploy splits between the last good revision and the new one)
    and no revision name (a rollback deploys an old release's file again)."""
    service = rendered()
    assert set(service["spec"]) == {"template"}
    assert "name" not in service["spec"]["template"]["metadata"]


def test_per_target_values_are_deploy_parameters_and_min_instances_is_the_services() -> None:
    settings = render.Release.from_environment(step_environment(), 1_700_000_000, MODEL)
    text = render.to_yaml(render.service_document(settings))
    assert re.search(
        r'^  name: "soulsync-model-endpoint"  # from-param: \$\{service\}$', text, re.M
    )
    service = yaml.safe_load(text)
    annotations = service["metadata"]["annotations"]
    assert annotations["run.googleapis.com/minScale"] == "0"
    assert "# from-param: ${min_instances}" in text and "# from-param: ${max_instances}" in text
    template = service["spec"]["template"]["metadata"]["annotations"]
    assert "autoscaling.knative.dev/minScale" not in template
    assert template["autoscaling.knative.dev/maxScale"] == render.PARAMETERS["max_instances"]


def test_a_custom_audience_and_the_ingress_are_set_on_the_service() -> None:
    annotations = rendered()["metadata"]["annotations"]
    assert annotations["run.googleapis.com/custom-audiences"] == '["soulsync-model-endpoint"]'
    assert annotations["run.googleapis.com/ingress"] == SUBSTITUTIONS["_INGRESS"] == "all"
    internal = rendered(_INGRESS="internal")["metadata"]["annotations"]
    assert internal["run.googleapis.com/ingress"] == "internal"
    with pytest.raises(render.ReleaseError, match="_INGRESS: 'private' is not one of all"):
        rendered(_INGRESS="private")


def test_private_by_default_public_by_annotation_both_ways() -> None:
    assert SUBSTITUTIONS["_PUBLIC"] == "false"
    public = "run.googleapis.com/invoker-iam-disabled"
    assert public not in rendered()["metadata"]["annotations"]
    assert rendered(_PUBLIC="true")["metadata"]["annotations"][public] == "true"
    with pytest.raises(render.ReleaseError, match="_PUBLIC: 'yes' is not one of false, true"):
        rendered(_PUBLIC="yes")


def test_api_keys_come_from_secret_manager_at_a_pinned_version() -> None:
    container = rendered(_API_KEYS_VERSION="3")["spec"]["template"]["spec"]["containers"][0]
    [keys] = [e for e in container["env"] if e["name"] == "SOULSYNC_API_KEYS"]
    assert keys == {
        "name": "SOULSYNC_API_KEYS",
        "valueFrom": {"secretKeyRef": {"name": "soulsync-api-keys", "key": "3"}},
    }
    with pytest.raises(render.ReleaseError, match="_API_KEYS_VERSION: 'latest' is not a secret"):
        rendered(_API_KEYS_VERSION="latest")


def test_settings_and_cors_origins_are_in_the_file() -> None:
    container = rendered(
        _CORS_ORIGINS="https://app.example,https://*.example.com",
        _SETTINGS="SOULSYNC_TOP_FACTORS=5; SOULSYNC_LOG_LEVEL=WARNING",
    )["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SOULSYNC_CORS_ORIGINS"] == "https://app.example,https://*.example.com"
    assert env["SOULSYNC_TOP_FACTORS"] == "5" and env["SOULSYNC_LOG_LEVEL"] == "WARNING"
    with pytest.raises(render.ReleaseError, match="SOULSYNC_API_KEYS is set by a substitution"):
        rendered(_SETTINGS="SOULSYNC_API_KEYS=abc")
    with pytest.raises(render.ReleaseError, match="'oops' is not NAME=value"):
        rendered(_SETTINGS="oops")


def test_the_metrics_sidecar_is_off_by_default_and_complete_when_on() -> None:
    assert SUBSTITUTIONS["_METRICS_SIDECAR"] == "false"
    plain = rendered()["spec"]["template"]
    assert [c["name"] for c in plain["spec"]["containers"]] == ["service"]
    template = rendered(_METRICS_SIDECAR="true")["spec"]["template"]
    service, collector = template["spec"]["containers"]
    assert collector["name"] == "collector" and "ports" not in collector
    assert collector["image"] == SUBSTITUTIONS["_METRICS_SIDECAR_IMAGE"]
    assert collector["resources"]["limits"] == {
        "cpu": SUBSTITUTIONS["_METRICS_SIDECAR_CPU"],
        "memory": SUBSTITUTIONS["_METRICS_SIDECAR_MEMORY"],
    }
    [volume] = template["spec"]["volumes"]
    assert collector["volumeMounts"] == [{"name": volume["name"], "mountPath": "/etc/rungmp"}]
    assert volume["secret"] == {
        "secretName": "soulsync-run-monitoring",
        "items": [{"key": SUBSTITUTIONS["_METRICS_SIDECAR_CONFIG_VERSION"], "path": "config.yaml"}],
    }
    annotations = template["metadata"]["annotations"]
    assert annotations["run.googleapis.com/container-dependencies"] == '{"collector":["service"]}'
    assert annotations["run.googleapis.com/cpu-throttling"] == "false"  # instance-based billing
    assert service["startupProbe"]["httpGet"]["path"] == "/readyz"  # what the collector waits on


@pytest.mark.parametrize(
    "substitutions",
    [
        {},
        {"_PUBLIC": "true", "_API_KEYS_VERSION": "3", "_CORS_ORIGINS": "https://app.example"},
        {"_METRICS_SIDECAR": "true", "_SETTINGS": "SOULSYNC_TOP_FACTORS=3"},
    ],
    ids=["defaults", "public-keys-cors", "sidecar-settings"],
)
def test_the_service_file_is_a_service_as_cloud_runs_api_describes_it(substitutions) -> None:
    assert service_problems(rendered(**substitutions)) == []


TEMPLATE = ("spec", "template")
CONTAINER = (*TEMPLATE, "spec", "containers", 0)


@pytest.mark.parametrize(
    ("where", "key", "value", "named"),
    [
        ((*TEMPLATE, "spec"), "containerConcurency", 40, "containerConcurency"),
        (CONTAINER, "startUpProbe", {}, "startUpProbe"),
        ((*CONTAINER, "startupProbe", "httpGet"), "paths", "/readyz", "httpGet.paths"),
        ((*TEMPLATE, "spec", "volumes", 0, "secret"), "name", "x", "secret.name"),
        ((*TEMPLATE, "spec"), "timeoutSeconds", "30", "integer expected"),
        (("metadata", "annotations"), "run.googleapis.com/min-scale", "0", "min-scale"),
        (
            (*TEMPLATE, "metadata", "annotations"),
            "autoscaling.knative.dev/maxscale",
            "1",
            "maxscale",
        ),
    ],
    ids=["spec", "container", "probe", "volume", "type", "annotation", "template-annotation"],
)
def test_a_mistyped_field_of_the_service_file_fails(where, key: str, value, named: str) -> None:
    """The check on broken copies: each mistake is named, at any depth."""
    service = rendered(_METRICS_SIDECAR="true")
    place = service
    for part in where:
        place = place[part]
    place[key] = value
    problems = service_problems(service)
    assert len(problems) == 1 and named in problems[0], problems


def test_cloud_run_size_is_small() -> None:
    assert float(SUBSTITUTIONS["_CPU"]) <= 1
    memory = SUBSTITUTIONS["_MEMORY"]
    assert memory.endswith("Mi") and int(memory[:-2]) <= 512
