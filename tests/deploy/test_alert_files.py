"""The alert policies and SLOs in alerts/ (docs/runbook.md): they parse as Cloud
Monitoring's formats with their required fields, every metric they name exists (Cloud Run's, or
the service's own as its /metrics shows them), every burn-rate alert names an SLO of alerts/slo
and has a volume guard over its own window, the instances alert follows prod's maximum, the
drift alert computes what GET /monitoring computes, and `make apply-alerts`'s script sends them
as it should."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from bench.harness import free_port
from generators import drift_alert, service_alerts
from soulsync.inference.drift import SHIFT_FROM, psi
from soulsync.metrics import LIVE_MINIMUM_COUNT
from soulsync.questionnaire import CONTRACT_EXAMPLE, NEGATIVE_RESULT, POSITIVE_RESULT

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "alerts"
POLICIES = sorted((ALERTS / "policies").glob("*.json"))
SLOS = sorted((ALERTS / "slo").glob("*.json"))
RUNBOOK = ROOT / "docs" / "runbook.md"

#: Cloud Run's metrics the files may name, as Google's list of Google Cloud metrics gives them
#: (https://cloud.google.com/monitoring/api/metrics_gcp, "run").
CLOUD_RUN_METRICS = {
    "run.googleapis.com/request_count",
    "run.googleapis.com/request_latencies",
    "run.googleapis.com/container/instance_count",
}
CONDITION_KINDS = {"conditionThreshold", "conditionMatchedLog", "conditionPrometheusQueryLanguage"}
SEVERITIES = {"CRITICAL", "ERROR", "WARNING"}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def substitution(name: str) -> str:
    text = (ROOT / "cloudbuild.yaml").read_text(encoding="utf-8")
    return re.search(rf'^  {name}: "?([^"\n]*)"?$', text, re.M)[1]


def filters(document: object) -> list[str]:
    """Every Monitoring filter and PromQL query anywhere in a document."""
    if isinstance(document, dict):
        found = [v for k, v in document.items() if k.endswith(("filter", "Filter", "query"))]
        return found + [f for value in document.values() for f in filters(value)]
    if isinstance(document, list):
        return [f for value in document for f in filters(value)]
    return []


#: The SLOs' resource names as the files hold them (deploy/alerts.py fills in both ids).
SLO_NAME = re.compile(
    r'^select_slo_burn_rate\("projects/PROJECT_ID/services/SERVICE_ID/serviceLevelObjectives/'
    r'(\w+)", "(\d+)h"\)$'
)


def test_the_alerts_and_slos_are_there() -> None:
    assert [p.name for p in POLICIES] == [
        "availability-fast-burn.json",
        "availability-slow-burn.json",
        "drift-shift.json",
        "latency-fast-burn.json",
        "latency-slow-burn.json",
        "max-instances.json",
        "readiness.json",
    ]
    assert [p.name for p in SLOS] == ["availability.json", "latency.json", "service.json"]


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_alert_policy_has_what_cloud_monitoring_requires(path: Path) -> None:
    policy = load(path)
    assert set(policy) <= {
        "displayName", "documentation", "severity", "combiner", "conditions", "alertStrategy",
        "userLabels",
    }  # fmt: skip
    assert policy["displayName"].startswith("SoulSync model service: ")
    assert policy["severity"] in SEVERITIES
    assert policy["combiner"] in {"OR", "AND"}
    assert policy["documentation"]["mimeType"] == "text/markdown"
    # Each points at its section of the runbook, which exists.
    section = re.search(r'docs/runbook\.md, "([^"]+)"', policy["documentation"]["content"])[1]
    assert f"\n### {section}\n" in RUNBOOK.read_text(encoding="utf-8"), section
    assert policy["conditions"]
    for condition in policy["conditions"]:
        assert condition["displayName"]
        (kind,) = set(condition) - {"displayName"}
        assert kind in CONDITION_KINDS
        body = condition[kind]
        if kind == "conditionThreshold":
            assert body["comparison"] in {"COMPARISON_GT", "COMPARISON_LT"}  # the only two
            assert re.fullmatch(r"\d+s", body["duration"])
            assert isinstance(body["thresholdValue"], int | float)
            for aggregation in body.get("aggregations", []) + body.get(
                "denominatorAggregations", []
            ):
                assert re.fullmatch(r"\d+s", aggregation["alignmentPeriod"])
                assert aggregation["perSeriesAligner"].startswith("ALIGN_")
                assert aggregation["crossSeriesReducer"].startswith("REDUCE_")
        elif kind == "conditionMatchedLog":
            # A log-match policy must say how often it may notify.
            assert re.fullmatch(r"\d+s", policy["alertStrategy"]["notificationRateLimit"]["period"])
        else:
            assert re.fullmatch(r"\d+s", body["duration"])
            assert re.fullmatch(r"\d+s", body["evaluationInterval"])


@pytest.mark.parametrize("path", SLOS, ids=lambda p: p.name)
def test_slo_has_what_the_service_monitoring_api_requires(path: Path) -> None:
    document = load(path)
    assert document["displayName"]
    if path.name == "service.json":
        assert document["custom"] == {}
        return
    assert 0 < document["goal"] < 1
    assert re.fullmatch(r"\d+s", document["rollingPeriod"])
    sli = document["serviceLevelIndicator"]["requestBased"]
    (kind,) = sli
    assert kind in {"goodTotalRatio", "distributionCut"}


def test_every_filter_names_this_service_and_a_cloud_run_metric() -> None:
    service = substitution("_SERVICE")
    for path in POLICIES + SLOS:
        for text in filters(load(path)):
            if "soulsync_" in text:
                continue  # PromQL over the service's own metrics (below)
            if text.startswith("select_slo_"):
                continue  # an SLO's burn rate (below)
            assert f'resource.labels.service_name = "{service}"' in text, path.name
            assert 'resource.type = "cloud_run_revision"' in text, path.name
            for metric in re.findall(r'metric\.type = "([^"]+)"', text):
                assert metric in CLOUD_RUN_METRICS, (path.name, metric)


def deploy_documents() -> list[dict]:
    return list(yaml.safe_load_all((ROOT / "deploy" / "clouddeploy.yaml").read_text()))


def test_the_numbers_are_the_deployments() -> None:
    """Instances at the maximum are prod's maximum (its deploy parameter in
    deploy/clouddeploy.yaml; a threshold condition compares with > only), active ones only."""
    [prod] = [
        d for d in deploy_documents() if d["kind"] == "Target" and d["metadata"]["name"] == "prod"
    ]
    (most,) = load(ALERTS / "policies" / "max-instances.json")["conditions"]
    maximum = int(prod["deployParameters"]["max_instances"])
    assert most["conditionThreshold"]["thresholdValue"] == maximum - 0.5
    assert most["conditionThreshold"]["filter"].endswith('AND metric.labels.state = "active"')
    assert prod["deployParameters"]["service"] == substitution("_SERVICE")


def test_a_changed_maximum_is_followed_by_the_generator(tmp_path, monkeypatch) -> None:
    pipeline = (ROOT / "deploy" / "clouddeploy.yaml").read_text(encoding="utf-8")
    raised = pipeline.replace('max_instances: "4"', 'max_instances: "9"')
    assert raised != pipeline
    (tmp_path / "clouddeploy.yaml").write_text(raised, encoding="utf-8")
    monkeypatch.setattr(service_alerts, "PIPELINE", tmp_path / "clouddeploy.yaml")
    (condition,) = service_alerts.files()["policies/max-instances.json"]["conditions"]
    assert condition["conditionThreshold"]["thresholdValue"] == 8.5


@pytest.mark.parametrize(
    "path", [p for p in POLICIES if p.name.endswith("-burn.json")], ids=lambda p: p.name
)
def test_a_burn_rate_alert_needs_its_volume_in_the_same_window(path: Path) -> None:
    """Each burn-rate policy fires only when the SLO's burn rate over its lookback AND the
    number of requests over the same window are both above their thresholds: a failure among
    a night's few requests is a huge burn rate, on too few requests to page anyone."""
    policy = load(path)
    assert policy["combiner"] == "AND"
    burn, volume = (c["conditionThreshold"] for c in policy["conditions"])
    slo_id, hours = SLO_NAME.fullmatch(burn["filter"]).groups()
    assert (ALERTS / "slo" / f"{slo_id}.json").exists()
    assert path.name.startswith(f"{slo_id}-")
    assert burn["thresholdValue"] > 1  # faster than the budget allows
    (window,) = volume["aggregations"]
    assert window["alignmentPeriod"] == f"{int(hours) * 3600}s"
    assert window["perSeriesAligner"] == "ALIGN_DELTA"
    assert volume["filter"].endswith('metric.type = "run.googleapis.com/request_count"')
    assert volume["thresholdValue"] >= 10
    # The documentation says what a burn of this rate means, on how many requests.
    text = policy["documentation"]["content"]
    assert f"on at least {round(volume['thresholdValue'] + 0.5)} requests" in text


def screened_metrics(client, questionnaires: list[dict]) -> str:
    """/metrics after screening `questionnaires` (enough of each group to publish its counts)."""
    for start in range(0, len(questionnaires), 250):
        chunk = questionnaires[start : start + 250]
        reply = client.post("/predict/batch", json={"questionnaires": chunk})
        assert reply.status_code == 200, reply.json
    return client.get("/metrics").get_data(as_text=True)


def population(size: int) -> list[dict]:
    """`size` questionnaires of each group, spread over the answers."""
    people = []
    for i in range(size):
        for group in (0, 1):
            people.append(
                {
                    **CONTRACT_EXAMPLE,
                    "WorkOrStudent": group,
                    "Pressure": 1 + i % 5,
                    "SleepDr": i % 4,
                    "SuicidalTh": int(i % 7 == 0),
                    "FinancialStress": 1 + (i * 3) % 5,
                }
            )
    return people


def test_every_metric_and_label_the_drift_alert_names_is_exposed(client) -> None:
    text = screened_metrics(client, population(250))
    samples = set(re.findall(r"^(soulsync_\w+)\{([^}]*)\}", text, re.M))
    exposed = {
        (name, frozenset(re.findall(r'(\w+)="([^"]*)"', labels))) for name, labels in samples
    }
    names = {name for name, _ in exposed}
    for query in filters(load(ALERTS / "policies" / "drift-shift.json")):
        for name, selector in re.findall(r"(soulsync_\w+)\{([^}]*)\}", query):
            assert name in names, name
            wanted = set(re.findall(r'(\w+)="([^"]*)"', selector))
            assert any(wanted <= labels for n, labels in exposed if n == name), (name, wanted)
        # Every (group, le) or (group, result) constant is a series the service exports.
        for group, label, value in re.findall(
            r'vector\([^)]*\), "group", "(\w+)", "", ""\), "(\w+)", "([^"]+)"', query
        ):
            assert any({("group", group), (label, value)} <= labels for _, labels in exposed), (
                group,
                label,
                value,
            )


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is not installed"
)
def test_drift_alert_computes_what_get_monitoring_computes(client, screener, tmp_path) -> None:
    """Prometheus' own engine (promtool) evaluates the alert's queries over the counts a real
    screening left in /metrics: for each group at shift it gives the PSI that the service's own
    function gives for the same counts, and no group below the cut-off fires."""
    students = [q for q in population(LIVE_MINIMUM_COUNT + 300) if q["WorkOrStudent"] == 0]
    shifted = [{**q, "Pressure": 5, "SuicidalTh": 1} for q in students]  # a moved population
    # Published (over 100) but too few to judge (under LIVE_MINIMUM_COUNT): never fires.
    professionals = [q for q in population(150) if q["WorkOrStudent"] == 1]
    text = screened_metrics(client, shifted + professionals)
    monitoring = client.get("/monitoring").json
    series = re.findall(r"^(soulsync_(?:score_bins|predictions)_total\{[^}]*\}) (\S+)$", text, re.M)
    assert series
    tests = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1d",
                "input_series": [
                    {"series": name, "values": f"0 {float(value):.0f}"} for name, value in series
                ],
                "promql_expr_test": [],
            }
        ],
    }
    policy = drift_alert.policy()
    card_reference = screener.card.drift_reference
    expected_index = {}
    for condition in policy["conditions"]:
        query = condition["conditionPrometheusQueryLanguage"]["query"]
        figure = "score" if "score_bins" in query else "result"
        samples = []
        for group, drift in monitoring["groups"].items():
            figures = {f["name"]: f for f in drift["figures"]}
            counts = group_counts(text, group, figure)
            reference = card_reference.groups[group]
            wanted = (
                reference.scores
                if figure == "score"
                else [1 - reference.flagged, reference.flagged]
            )
            index = psi([c / sum(counts) for c in counts], wanted)
            if sum(counts) >= LIVE_MINIMUM_COUNT:  # the counts are GET /monitoring's
                assert round(index, 6) == figures[figure]["psi"]
            else:
                assert figures[figure]["status"] == "too_few"
            expected_index[(group, figure)] = index
            if index >= SHIFT_FROM and sum(counts) >= LIVE_MINIMUM_COUNT:
                samples.append({"labels": f'{{group="{group}"}}', "value": round(index * 1e6)})
        tests["tests"][0]["promql_expr_test"].append(
            {"expr": f"round(({query}) * 1000000)", "eval_time": "1d", "exp_samples": samples}
        )
    assert expected_index[("students", "score")] >= SHIFT_FROM  # the shift is there to find
    assert expected_index[("professionals", "score")] >= SHIFT_FROM  # but too few: no alert
    (tmp_path / "test.yml").write_text(json.dumps(tests), encoding="utf-8")  # YAML reads JSON
    result = subprocess.run(
        ["promtool", "test", "rules", str(tmp_path / "test.yml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def group_counts(text: str, group: str, figure: str) -> list[int]:
    """A group's counts from /metrics: per score bin in the order of its edges, or
    [No Depression, Depression]."""
    if figure == "result":
        order = [NEGATIVE_RESULT, POSITIVE_RESULT]
        pattern = r"soulsync_predictions_total\{([^}]*)\} (\S+)"
        key = "result"
    else:
        order = None
        pattern = r"soulsync_score_bins_total\{([^}]*)\} (\S+)"
        key = "le"
    found = {}
    for labels, value in re.findall(pattern, text):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if fields["group"] == group:
            found[fields[key]] = int(float(value))
    if order is None:
        order = sorted(found, key=lambda edge: float(edge))  # "+Inf" sorts last as a float
    return [found[value] for value in order]


# --- make apply-alerts: the script, against a gcloud stand-in and an API stand-in ----------------


class _Api(http.server.BaseHTTPRequestHandler):
    """The Service Monitoring API in miniature: what exists, and every call it got."""

    existing: ClassVar[set[str]]
    calls: ClassVar[list[tuple[str, str, dict | None]]]

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        path = self.path.split("?")[0]
        type(self).calls.append((self.command, self.path, body))
        status = 404 if self.command == "GET" and path not in self.existing else 200
        if self.command == "POST":
            item = self.path.split("=")[-1]
            self.existing.add(f"{path}/{item}")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PATCH = _handle

    def log_message(self, *args: object) -> None:
        pass


def run_apply(
    tmp_path: Path, api: str, replies: dict, channels: str = "projects/p1/notificationChannels/7"
) -> tuple[list[dict], str]:
    """gcloud's calls (argv, and the policy a create or update sent), and what the script
    wrote to stderr."""
    fake = tmp_path / "gcloud-state"
    fake.mkdir(exist_ok=True)
    (fake / "replies.json").write_text(json.dumps(replies), encoding="utf-8")
    (fake / "calls.jsonl").write_text("", encoding="utf-8")
    env = {
        **os.environ,
        "PATH": f"{ROOT / 'tests' / 'fixtures' / 'fake-gcloud'}:{os.environ['PATH']}",
        "FAKE_GCLOUD": str(fake),
        "SOULSYNC_MONITORING_API": api,
    }
    result = subprocess.run(
        [sys.executable, "-m", "deploy.alerts", "apply", "--project=p1",
         f"--channels={channels}"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (fake / "calls.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines], result.stderr


def test_make_apply_alerts_creates_then_updates(tmp_path: Path) -> None:
    handler = type("Api", (_Api,), {"existing": set(), "calls": []})
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        api = f"http://127.0.0.1:{port}/v3"
        token = {"auth print-access-token": [{"stdout": "a-token\n"}]}
        first, warned = run_apply(
            tmp_path, api, {**token, "monitoring policies list": [{"stdout": ""}]}
        )
        assert "notify no one" not in warned
        created = [c for c in first if c["argv"][:3] == ["monitoring", "policies", "create"]]
        assert len(created) == len(POLICIES)
        assert all("--project=p1" in c["argv"] for c in created)
        # The burn-rate policies name the SLOs of this project and service.
        sent = json.dumps([c["policy"] for c in created])
        assert "PROJECT_ID" not in sent and "SERVICE_ID" not in sent
        assert "projects/p1/services/soulsync-model-endpoint/serviceLevelObjectives/latency" in sent
        assert all(
            c["policy"]["notificationChannels"] == ["projects/p1/notificationChannels/7"]
            for c in created
        )
        posted = [(path, body) for method, path, body in handler.calls if method == "POST"]
        assert posted[0][0] == "/v3/projects/p1/services?serviceId=soulsync-model-endpoint"
        assert {path.split("=")[-1] for path, _ in posted[1:]} == {"availability", "latency"}

        handler.calls.clear()
        listed = {"monitoring policies list": [{"stdout": "projects/p1/alertPolicies/42\n"}]}
        second, _ = run_apply(tmp_path, api, {**token, **listed})
        _, warned = run_apply(tmp_path, api, {**token, **listed}, channels="")
        assert (
            "warning: no notification channels (--channels): the policies will notify no one"
            in (warned)
        )
        updated = [c for c in second if c["argv"][:3] == ["monitoring", "policies", "update"]]
        assert len(updated) == len(POLICIES)
        assert not [c for c in second if c["argv"][:3] == ["monitoring", "policies", "create"]]
        assert {method for method, _, _ in handler.calls} == {"GET", "PATCH"}
    finally:
        httpd.shutdown()
        httpd.server_close()
