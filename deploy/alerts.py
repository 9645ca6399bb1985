"""Install the alert policies and SLOs of alerts/ in a project's Cloud Monitoring.

    python3 -m deploy.alerts apply --project=PROJECT [--channels=CHANNEL,...]

`make apply-alerts` runs it (docs/runbook.md). Standard library and gcloud only, like the release
scripts. Each run leaves Cloud Monitoring holding exactly the files' versions, however often it
runs:

- alerts/slo/service.json is the Service Monitoring API's service (id: the Cloud Run
  service's name), and each other alerts/slo/*.json one of its ServiceLevelObjectives (id:
  the file's name), each created or replaced through the API's REST interface; first, since
  the burn-rate policies name them;
- each alerts/policies/*.json (the AlertPolicy format of `gcloud monitoring policies create
  --policy-from-file`) is created, or, when a policy of the same displayName exists, updated
  in place, with the project and the SLOs' service in place of PROJECT_ID and SERVICE_ID;
  `--channels` (notification channels' resource names) are set on every policy.

Not run here: this project's machines reach no Google Cloud project.
tests/deploy/test_alert_files.py runs it against a gcloud stand-in and a stand-in for the API,
and checks what it sends.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "alerts"
#: The Service Monitoring API (SOULSYNC_MONITORING_API replaces it for the tests' stand-in).
API = os.environ.get("SOULSYNC_MONITORING_API", "https://monitoring.googleapis.com/v3")


def gcloud(*args: str) -> str:
    result = subprocess.run(["gcloud", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"gcloud {' '.join(args[:3])} failed: {result.stderr.strip()}")
    return result.stdout


def apply_policy(path: Path, project: str, service_id: str, channels: list[str]) -> None:
    text = path.read_text(encoding="utf-8")
    # The SLOs' resource names in the burn-rate policies (generators/service_alerts.py).
    slos = f"projects/{project}/services/{service_id}/"
    policy = json.loads(text.replace("projects/PROJECT_ID/services/SERVICE_ID/", slos))
    policy["notificationChannels"] = channels
    name = policy["displayName"]
    found = gcloud(
        "monitoring", "policies", "list", f"--project={project}",
        f'--filter=displayName="{name}"', "--format=value(name)",
    ).split()  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(policy, handle)
    try:
        if found:
            for existing in found:
                gcloud("monitoring", "policies", "update", existing, f"--project={project}",
                       f"--policy-from-file={handle.name}")  # fmt: skip
            print(f"updated: {name}")
        else:
            gcloud("monitoring", "policies", "create", f"--project={project}",
                   f"--policy-from-file={handle.name}")  # fmt: skip
            print(f"created: {name}")
    finally:
        os.unlink(handle.name)


def call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> int:
    """The status of one Service Monitoring API call (404 is an answer, not an error)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code == 404 and method == "GET":
            return 404
        problem = error.read().decode(errors="replace")
        raise SystemExit(f"{method} {url}: {error.code} {problem}") from None


def put(url: str, collection: str, key: str, item_id: str, body: dict, token: str) -> str:
    """Create the item, or replace it when it exists."""
    if call("GET", f"{url}/{item_id}", token) == 404:
        call("POST", f"{collection}?{key}={item_id}", token, body)
        return "created"
    call("PATCH", f"{url}/{item_id}", token, body)
    return "updated"


def apply_slos(project: str, service_id: str) -> None:
    token = gcloud("auth", "print-access-token").strip()
    services = f"{API}/projects/{project}/services"
    service = json.loads((ALERTS / "slo" / "service.json").read_text(encoding="utf-8"))
    done = put(services, services, "serviceId", service_id, service, token)
    print(f"{done}: service {service_id}")
    objectives = f"{services}/{service_id}/serviceLevelObjectives"
    for path in sorted((ALERTS / "slo").glob("*.json")):
        if path.name == "service.json":
            continue
        slo = json.loads(path.read_text(encoding="utf-8"))
        done = put(objectives, objectives, "serviceLevelObjectiveId", path.stem, slo, token)
        print(f"{done}: SLO {path.stem} ({slo['displayName']})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    apply = commands.add_parser("apply", help="create or update every policy and SLO")
    apply.add_argument("--project", required=True)
    apply.add_argument("--service", default="soulsync-model-endpoint", help="the SLO service id")
    apply.add_argument("--channels", default="", help="notification channels, comma-separated")
    args = parser.parse_args(argv)
    channels = [channel for channel in args.channels.split(",") if channel]
    if not channels:
        print(
            "warning: no notification channels (--channels): the policies will notify no one",
            file=sys.stderr,
        )
    apply_slos(args.project, args.service)
    for path in sorted((ALERTS / "policies").glob("*.json")):
        apply_policy(path, args.project, args.service, channels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
