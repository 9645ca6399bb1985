"""deploy/clouddeploy.yaml, deploy/skaffold.yaml and the service file, checked offline, since
nothing here reaches Google:

- every clouddeploy.yaml document, after the transforms `gcloud deploy apply` makes before it
  calls the API (read in gcloud's command_lib/deploy/manifest_util.py), parses into the
  google-cloud-deploy client's own type (DeliveryPipeline, Target, Automation, DeployPolicy),
  and an unknown or mistyped field fails, as it does in gcloud;
- skaffold.yaml against a closed schema of the skaffold v4beta7 configuration this project
  uses. No package on PyPI ships skaffold's published JSON schema, and copying it into the
  repository is not ours to do, so this schema is our own reading of it: it catches a mistyped
  key in our file, not every rule of skaffold's (Cloud Deploy's render job, which runs skaffold,
  is the full check: docs/deployment.md, "Check on the first real release");
- the rules no parser checks: canary percentages rising and below 100, every target, phase and
  selector named exists, every deploy parameter of the service file set on every target, the
  execution environments covering each target's jobs, one region and one service name;
- each check fails on a broken copy of each file.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest
import yaml
from google.cloud import deploy_v1

from deploy import pipeline, render, smoke
from tests.support.fake_cloud import BUILD, ROOT, step_environment

PROJECT = "soulsync-project"
SKAFFOLD = ROOT / "deploy" / "skaffold.yaml"
#: The kinds `gcloud deploy apply` takes, and the client's type for each.
TYPES = {
    "DeliveryPipeline": deploy_v1.DeliveryPipeline,
    "Target": deploy_v1.Target,
    "Automation": deploy_v1.Automation,
    "DeployPolicy": deploy_v1.DeployPolicy,
}
COLLECTIONS = {
    "DeliveryPipeline": "deliveryPipelines",
    "Target": "targets",
    "Automation": "deliveryPipelines/{pipeline}/automations",
    "DeployPolicy": "deployPolicies",
}
METADATA_KEYS = {"name", "annotations", "labels", "description"}
RULES_WITH_WAIT = ("promoteReleaseRule", "advanceRolloutRule")


class ConfigProblem(Exception):
    pass


# --- gcloud's transforms, then the client's types ----------------------------------------------


def as_api(document: dict[str, Any], region: str) -> tuple[str, dict[str, Any]]:
    """(kind, the API's JSON) of one document, as `gcloud deploy apply` makes it."""
    document = copy.deepcopy(document)
    if document.pop("apiVersion", None) not in {
        "deploy.cloud.google.com/v1",
        "deploy.cloud.google.com/v1beta1",
    }:
        raise ConfigProblem("apiVersion is not deploy.cloud.google.com/v1")
    kind = document.pop("kind", None)
    if kind not in TYPES:
        raise ConfigProblem(f"kind {kind!r} is not one gcloud deploy apply takes")
    metadata = document.pop("metadata", None) or {}
    if set(metadata) - METADATA_KEYS or "name" not in metadata:
        raise ConfigProblem(f"{kind} metadata: {sorted(metadata)} (allowed: name, annotations...)")
    name = metadata["name"]
    parent, _, own = name.rpartition("/")
    collection = COLLECTIONS[kind].format(pipeline=parent)
    if "/" in own or (kind == "Automation") != bool(parent):
        raise ConfigProblem(f"{kind} {name}: not a resource ID")
    document["name"] = f"projects/{PROJECT}/locations/{region}/{collection}/{own}"
    document.update({key: metadata[key] for key in METADATA_KEYS - {"name"} if key in metadata})
    for rule in document.get("rules", []) if kind == "Automation" else []:
        for rule_kind, body in rule.items():
            if rule_kind in RULES_WITH_WAIT and "wait" in body:
                body["wait"] = minutes_as_seconds(body["wait"])
            for phase in body.get("repairPhases", []) if isinstance(body, dict) else []:
                retry = phase.get("retry")
                if retry and "wait" in retry:
                    retry["wait"] = minutes_as_seconds(retry["wait"])
                if retry and not str(retry.get("backoffMode", "BACKOFF_MODE_")).startswith(
                    "BACKOFF_MODE_"
                ):
                    retry["backoffMode"] = "BACKOFF_MODE_" + retry["backoffMode"]
    for rule in document.get("rules", []) if kind == "DeployPolicy" else []:
        windows = rule.get("rolloutRestriction", {}).get("timeWindows", {})
        for window in windows.get("weeklyWindows", []):
            for key in ("startTime", "endTime"):
                if key in window:
                    window[key] = time_of_day(window[key])
    return kind, document


def minutes_as_seconds(wait: str) -> str:
    if not re.fullmatch(r"\d+m", str(wait)):
        raise ConfigProblem(f"wait {wait!r}: gcloud takes whole minutes, as 5m")
    return f"{int(wait[:-1]) * 60}s"


def time_of_day(value: str) -> dict[str, int]:
    match = re.fullmatch(r"(\d\d):(\d\d)", str(value))
    if not match:
        raise ConfigProblem(f"time {value!r} is not HH:MM")
    return {"hours": int(match[1]), "minutes": int(match[2])}


def parse(document: dict[str, Any], region: str) -> Any:
    kind, api = as_api(document, region)
    try:
        return TYPES[kind].from_json(json.dumps(api), ignore_unknown_fields=False)
    except Exception as error:  # the client's ParseError, or an enum it does not know
        raise ConfigProblem(f"{kind} {document['metadata']['name']}: {error}") from None


# --- the rules no parser checks ---------------------------------------------------------------


def run_region(location: str) -> str:
    match = re.fullmatch(rf"projects/{PROJECT}/locations/([a-z0-9-]+)", location)
    if not match:
        raise ConfigProblem(f"run.location {location!r} is not projects/PROJECT_ID/locations/R")
    return match[1]


def verify_args(skaffold: dict) -> dict[str, str]:
    [check] = skaffold["verify"]
    return dict(arg.removeprefix("--").split("=", 1) for arg in check["container"]["args"])


def semantic_problems(resources: dict[str, list], skaffold: dict, service: str) -> list[str]:
    problems = []
    [delivery] = resources["DeliveryPipeline"]
    targets = {t.name.rsplit("/", 1)[-1]: t for t in resources["Target"]}
    stages = {stage.target_id: stage for stage in delivery.serial_pipeline.stages}
    pipeline_id = delivery.name.rsplit("/", 1)[-1]
    if set(stages) != set(targets):
        problems.append(f"stages name {sorted(stages)}, the targets are {sorted(targets)}")
    phases: dict[str, set[str]] = {}
    for target_id, stage in stages.items():
        phases[target_id] = {"stable"}
        canary = stage.strategy.canary
        if canary:
            percentages = list(canary.canary_deployment.percentages)
            if percentages != sorted(set(percentages)):
                problems.append(f"{target_id}: percentages {percentages} do not rise")
            if not all(0 <= p < 100 for p in percentages):
                problems.append(f"{target_id}: percentages {percentages} not 0 <= n < 100")
            phases[target_id] |= {f"canary-{p}" for p in percentages}
            cloud_run = canary.runtime_config.cloud_run
            if not cloud_run.automatic_traffic_control:
                problems.append(f"{target_id}: a Cloud Run canary needs automaticTrafficControl")
            if verify_args(skaffold)["canary-tag"] not in cloud_run.canary_revision_tags:
                problems.append(f"{target_id}: the verify's --canary-tag is not a canary tag")
        verifies = stage.strategy.standard.verify or canary.canary_deployment.verify
        if not verifies:
            problems.append(f"{target_id}: its rollouts are not verified")
    for automation in resources["Automation"]:
        name = automation.name.split("/automations/")[1]
        if f"/deliveryPipelines/{pipeline_id}/" not in automation.name:
            problems.append(f"automation {name} is not the pipeline's")
        if not automation.service_account:
            problems.append(f"automation {name} names no service account")
        selected = [t.id for t in automation.selector.targets]
        for target_id in selected:
            if target_id not in targets:
                problems.append(f"automation {name} selects {target_id}, no such target")
        for rule in automation.rules:
            promote, advance = rule.promote_release_rule, rule.advance_rollout_rule
            repair = rule.repair_rollout_rule
            destination = promote.destination_target_id
            if destination and destination != "@next" and destination not in targets:
                problems.append(f"automation {name} promotes to {destination}, no such target")
            for phase in advance.source_phases:
                if not all(phase in phases.get(t, set()) for t in selected):
                    problems.append(f"automation {name}: no phase {phase} on {selected}")
            for repair_phase in repair.repair_phases:
                back = repair_phase.rollback.destination_phase
                if back and not all(back in phases.get(t, set()) for t in selected):
                    problems.append(f"automation {name} rolls back to {back}, no such phase")
    for policy in resources.get("DeployPolicy", []):
        for selector in policy.selectors:
            if selector.target.id and selector.target.id not in targets:
                problems.append(f"policy selects {selector.target.id}, no such target")
    used = set(re.findall(r"# from-param: \$\{(\w+)\}", service))
    for target_id, target in targets.items():
        given = set(target.deploy_parameters)
        if given != used:
            problems.append(
                f"{target_id}: deploy parameters {sorted(given)}, the service file uses "
                f"{sorted(used)}"
            )
        needed = {"RENDER", "DEPLOY"} | ({"VERIFY"} if target_id in stages else set())
        covered = {
            deploy_v1.ExecutionConfig.ExecutionEnvironmentUsage(usage).name
            for config in target.execution_configs
            for usage in config.usages
        }
        if not needed <= covered:
            problems.append(f"{target_id}: no execution environment for {sorted(needed - covered)}")
        if not all(config.service_account for config in target.execution_configs):
            problems.append(f"{target_id}: an execution environment names no service account")
        region = run_region(target.run.location)
        if region != BUILD["substitutions"]["_REGION"]:
            problems.append(f"{target_id} runs in {region}, cloudbuild.yaml's _REGION differs")
        if region != verify_args(skaffold)["region"]:
            problems.append(f"{target_id} runs in {region}, the verify's --region differs")
    prod_service = targets["prod"].deploy_parameters.get("service") if "prod" in targets else None
    if not pipeline_id == prod_service == BUILD["substitutions"]["_SERVICE"]:
        problems.append(
            f"pipeline {pipeline_id}, prod's service {prod_service} and cloudbuild.yaml's "
            f"_SERVICE {BUILD['substitutions']['_SERVICE']} differ"
        )
    [check] = skaffold["verify"]
    if check["container"]["image"] != render.IMAGE:
        problems.append(f"the verify runs {check['container']['image']}, not the release's image")
    if skaffold["manifests"]["rawYaml"] != ["service.yaml"]:
        problems.append("skaffold.yaml does not name the release's service.yaml")
    return problems


# --- skaffold.yaml ------------------------------------------------------------------------------

STRINGS = {"type": "array", "items": {"type": "string"}}


def closed(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


#: The skaffold v4beta7 configuration this project uses: its keys, and no others.
SKAFFOLD_SCHEMA = closed(
    {
        "apiVersion": {"const": "skaffold/v4beta7"},
        "kind": {"const": "Config"},
        "metadata": closed({"name": {"type": "string"}}),
        "manifests": closed({"rawYaml": STRINGS}),
        "deploy": closed(
            {"cloudrun": closed({"projectid": {"type": "string"}, "region": {"type": "string"}})}
        ),
        "verify": {
            "type": "array",
            "items": closed(
                {
                    "name": {"type": "string"},
                    "container": closed(
                        {
                            "name": {"type": "string"},
                            "image": {"type": "string"},
                            "command": STRINGS,
                            "args": STRINGS,
                        },
                        ("name", "image"),
                    ),
                },
                ("name", "container"),
            ),
        },
    },
    ("apiVersion", "kind"),
)


# --- all of it, on given texts ------------------------------------------------------------------


def rendered_service() -> str:
    settings = render.Release.from_environment(step_environment(), 1_700_000_000, "0" * 12)
    return render.to_yaml(render.service_document(settings))


def problems(clouddeploy: str, skaffold: str, service: str, gates: bool = False) -> list[str]:
    """Every problem of the three files, as the checks above find them."""
    found = []
    region = BUILD["substitutions"]["_PIPELINE_REGION"]
    try:
        documents = list(yaml.safe_load_all(pipeline.pipeline(clouddeploy, PROJECT, gates)))
    except (yaml.YAMLError, ValueError) as error:
        return [f"clouddeploy.yaml: {error}"]
    resources: dict[str, list] = {kind: [] for kind in TYPES}
    for document in documents:
        try:
            resource = parse(document, region)
        except ConfigProblem as problem:
            found.append(str(problem))
        else:
            resources[type(resource).__name__].append(resource)
    skaffold_document = yaml.safe_load(skaffold)
    for error in jsonschema.Draft202012Validator(SKAFFOLD_SCHEMA).iter_errors(skaffold_document):
        found.append(f"skaffold.yaml {'.'.join(map(str, error.path))}: {error.message}")
    if found:
        return found
    try:
        return semantic_problems(resources, skaffold_document, service)
    except (ConfigProblem, KeyError, ValueError) as problem:
        return [f"{type(problem).__name__}: {problem}"]


CLOUDDEPLOY_TEXT = pipeline.PIPELINE.read_text(encoding="utf-8")
SKAFFOLD_TEXT = SKAFFOLD.read_text(encoding="utf-8")


@pytest.mark.parametrize("gates", [False, True], ids=["gates off", "gates on"])
def test_the_committed_files_have_no_problem(gates: bool) -> None:
    assert problems(CLOUDDEPLOY_TEXT, SKAFFOLD_TEXT, rendered_service(), gates) == []


def resources(gates: bool) -> dict[str, Any]:
    text = pipeline.pipeline(CLOUDDEPLOY_TEXT, PROJECT, gates)
    region = BUILD["substitutions"]["_PIPELINE_REGION"]
    return {
        parse(d, region).name.rsplit("/", 1)[-1]: parse(d, region) for d in yaml.safe_load_all(text)
    }


def test_gates_are_off_by_default_and_one_setting_turns_both_on() -> None:
    off, on = resources(False), resources(True)
    assert not off["prod"].require_approval and off["soulsync-release-hours"].suspended
    assert on["prod"].require_approval and not on["soulsync-release-hours"].suspended
    assert not on["staging"].require_approval
    assert len(pipeline.GATE.findall(CLOUDDEPLOY_TEXT)) == 2
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^GATES +\?= off$", makefile, re.M)


def test_prod_is_a_verified_canary_from_zero_and_staging_verified() -> None:
    found = resources(False)
    [staging, prod] = found["soulsync-model-endpoint"].serial_pipeline.stages
    assert (staging.target_id, prod.target_id) == ("staging", "prod")
    assert staging.strategy.standard.verify
    assert list(prod.strategy.canary.canary_deployment.percentages) == [0, 10, 50]
    assert found["staging"].deploy_parameters["min_instances"] == "0"
    repair = found["repair"].rules[0].repair_rollout_rule
    assert [p.rollback.destination_phase for p in repair.repair_phases] == ["stable"]
    assert not any(p.retry.attempts for p in repair.repair_phases)


def test_the_soak_limit_is_below_what_pages() -> None:
    """A canary that passes its soak cannot page on arrival: the verify's error-rate limit is
    below the share of failed requests at which the availability SLO's fast burn fires
    (alerts/policies/availability-fast-burn.json)."""
    skaffold = yaml.safe_load(SKAFFOLD_TEXT)
    slo = json.loads((ROOT / "alerts" / "slo" / "availability.json").read_text())
    alert = json.loads((ROOT / "alerts" / "policies" / "availability-fast-burn.json").read_text())
    burn = alert["conditions"][0]["conditionThreshold"]["thresholdValue"]
    limit = float(verify_args(skaffold)["max-error-rate"])
    assert limit < burn * (1 - slo["goal"])


def test_the_release_ships_what_the_verify_reads() -> None:
    assert smoke.EXPECTED == ROOT / "deploy" / "smoke-expected.json"
    assert verify_args(yaml.safe_load(SKAFFOLD_TEXT))["canary-tag"] == "candidate"


# --- broken copies: each check fails -------------------------------------------------------------

Mutation = tuple[str, str, str, str]  # file, old, new, the problem expected
BROKEN: list[Mutation] = [
    ("clouddeploy", "percentages: [0, 10, 50]", "percentage: [0, 10, 50]", "percentage"),
    ("clouddeploy", "automaticTrafficControl", "automaticTraficControl", "automaticTraficControl"),
    ("clouddeploy", "canaryRevisionTags", "canaryRevisionTag", "canaryRevisionTag"),
    ("clouddeploy", "requireApproval: false", "requireApprovals: false", "requireApprovals"),
    (
        "clouddeploy",
        "usages: [RENDER, DEPLOY, VERIFY]",
        "usages: [RENDER, DEPLOY, VERIFYING]",
        "VERIFYING",
    ),
    ("clouddeploy", "destinationTargetId", "destinationTarget", "destinationTarget"),
    ("clouddeploy", "wait: 0m", "wait: 0s", "whole minutes"),
    ("clouddeploy", "destinationPhase: stable", "destinationPhase: stabel", "no such phase"),
    ("clouddeploy", "timeZone: Asia/Jakarta", "timezone: Asia/Jakarta", "timezone"),
    ("clouddeploy", "  name: staging\n", "  name: staging\n  label: {}\n", "metadata"),
    ("clouddeploy", "percentages: [0, 10, 50]", "percentages: [0, 50, 10]", "do not rise"),
    ("clouddeploy", "percentages: [0, 10, 50]", "percentages: [0, 10, 100]", "not 0 <= n < 100"),
    ("clouddeploy", "- targetId: prod", "- targetId: production", "the targets are"),
    (
        "clouddeploy",
        "[canary-0, canary-10, canary-50]",
        "[canary-0, canary-25]",
        "no phase canary-25",
    ),
    ("clouddeploy", "  - id: staging", "  - id: stage", "selects stage, no such target"),
    ("clouddeploy", '  max_instances: "4"\n', "", "prod: deploy parameters"),
    (
        "clouddeploy",
        "- usages: [RENDER, DEPLOY, VERIFY]",
        "- usages: [RENDER, DEPLOY]",
        "for ['VERIFY']",
    ),
    (
        "clouddeploy",
        "canaryRevisionTags: [candidate]",
        "canaryRevisionTags: [canary]",
        "--canary-tag",
    ),
    (
        "clouddeploy",
        "automaticTrafficControl: true",
        "automaticTrafficControl: false",
        "needs automaticTrafficControl",
    ),
    ("clouddeploy", "locations/asia-southeast2", "locations/asia-east1", "_REGION differs"),
    (
        "clouddeploy",
        "serviceAccount: soulsync-automation@PROJECT_ID.iam.gserviceaccount.com\n",
        "",
        "names no service account",
    ),
    ("clouddeploy", "  service: soulsync-model-endpoint\n", "  service: soulsync\n", "differ"),
    (
        "clouddeploy",
        "      standard:\n        verify: true",
        "      standard:\n        verify: false",
        "not verified",
    ),
    ("skaffold", "rawYaml", "rawYAML", "rawYAML"),
    ("skaffold", "cloudrun: {}", "cloudRun: {}", "cloudRun"),
    ("skaffold", "    command:", "    commands:", "commands"),
    ("skaffold", "skaffold/v4beta7", "skaffold/v4beta99", "v4beta7"),
    ("skaffold", "--region=asia-southeast2", "--region=asia-east1", "the verify's --region"),
    (
        "skaffold",
        "image: soulsync-model-endpoint",
        "image: soulsync-verify",
        "not the release's image",
    ),
    ("skaffold", "- service.yaml", "- run.yaml", "service.yaml"),
    (
        "service",
        "# from-param: ${max_instances}",
        "# from-param: ${max_instance}",
        "the service file uses",
    ),
]


@pytest.mark.parametrize(("kind", "old", "new", "expected"), BROKEN, ids=lambda v: str(v)[:40])
def test_a_broken_copy_fails(kind: str, old: str, new: str, expected: str) -> None:
    texts = {
        "clouddeploy": CLOUDDEPLOY_TEXT,
        "skaffold": SKAFFOLD_TEXT,
        "service": rendered_service(),
    }
    assert old in texts[kind], f"the mutation no longer applies to {kind}: {old!r}"
    texts[kind] = texts[kind].replace(old, new, 1)
    found = problems(texts["clouddeploy"], texts["skaffold"], texts["service"])
    assert any(expected in problem for problem in found), found


def test_every_broken_copy_is_a_different_break() -> None:
    assert len({(kind, old, new) for kind, old, new, _ in BROKEN}) == len(BROKEN)
