"""The verify job of every rollout phase: Cloud Deploy runs it in the release's own image
(deploy/skaffold.yaml), after each deploy. Exit 0 lets the rollout go on; anything else fails the
rollout, and on prod the repair automation then returns all traffic to the last good release.

    python -m deploy.verify --region=REGION [--canary-tag=candidate]
                            [--soak-seconds=300] [--max-error-rate=0.02]

What it checks depends on the phase Cloud Deploy names (CLOUD_DEPLOY_PHASE):

- `canary-0`, the new revision with no traffic: the smoke test (deploy/smoke.py) at the URL of
  its tag (the pipeline's canaryRevisionTags), which must name CLOUD_RUN_REVISION;
- `canary-N`, N > 0, the new revision with N % of the traffic: its share of 5xx answers in Cloud
  Run's request log over the soak, at most the rate;
- `stable`, prod's last phase and staging's only one: the smoke test at the service's URL.

From the job's environment: CLOUD_DEPLOY_PHASE, CLOUD_DEPLOY_TARGET and CLOUD_RUN_REVISION (the
revision under test). The rest is read from Cloud Run, as deployed: the revision's service and its
API-key secret version (sent as the smoke test's key when keys are on), the service's URL, tags
and custom audience (the ID token's audience), and whether the service is public (if not, the
smoke test also checks that a call without a token is refused). The project comes from the
metadata server, as the access and ID tokens do.

Standard library only; deploy/cloud.py makes the calls.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deploy import cloud, render, smoke

#: The phases Cloud Deploy names: canary-<percent> and stable.
CANARY = re.compile(r"canary-(\d+)")
STABLE = "stable"
#: Most request-log entries read to judge one soak.
LOG_LIMIT = 10000
PUBLIC_ANNOTATION = "run.googleapis.com/invoker-iam-disabled"
AUDIENCES_ANNOTATION = "run.googleapis.com/custom-audiences"
SERVICE_LABEL = "serving.knative.dev/service"


class VerifyFailed(Exception):
    """The phase fails; the message says why."""


def say(line: str) -> None:
    print(line, flush=True)


@dataclass(frozen=True)
class Deployed:
    """The revision under test and its service, as Cloud Run has them."""

    project: str
    revision: str
    revision_document: dict[str, Any]
    service_document: dict[str, Any]

    @classmethod
    def read(cls, google: cloud.Google, project: str, region: str, revision: str) -> Deployed:
        base = f"/apis/serving.knative.dev/v1/namespaces/{cloud.quote(project)}"
        found = google.call("run", f"{base}/revisions/{cloud.quote(revision)}", region=region)
        service = found.get("metadata", {}).get("labels", {}).get(SERVICE_LABEL)
        if not service:
            raise VerifyFailed(f"Cloud Run names no service for revision {revision}")
        document = google.call("run", f"{base}/services/{cloud.quote(service)}", region=region)
        return cls(project, revision, found, document)

    @property
    def service(self) -> str:
        return self.service_document["metadata"]["name"]

    @property
    def annotations(self) -> dict[str, str]:
        return self.service_document.get("metadata", {}).get("annotations", {})

    @property
    def public(self) -> bool:
        return self.annotations.get(PUBLIC_ANNOTATION) == "true"

    @property
    def audience(self) -> str:
        """The service's first custom audience, else its URL."""
        audiences = json.loads(self.annotations.get(AUDIENCES_ANNOTATION) or "[]")
        return audiences[0] if audiences else self.url

    @property
    def url(self) -> str:
        return self.service_document.get("status", {}).get("url", "")

    def tag_url(self, tag: str) -> str:
        """The URL of `tag`, which must name the revision under test."""
        for entry in self.service_document.get("status", {}).get("traffic", []):
            if entry.get("tag") == tag:
                if entry.get("revisionName") != self.revision:
                    raise VerifyFailed(
                        f"the tag {tag} names {entry.get('revisionName')}, not {self.revision}"
                    )
                if not entry.get("url"):
                    raise VerifyFailed(f"Cloud Run gave the tag {tag} no URL")
                return entry["url"]
        raise VerifyFailed(f"{self.service} has no tag {tag}: is it the pipeline's canary tag?")

    def api_key_version(self) -> tuple[str, str] | None:
        """(secret, version) of the revision's API keys, or None when keys are off."""
        containers = self.revision_document.get("spec", {}).get("containers", [])
        for container in containers:
            for variable in container.get("env", []):
                if variable.get("name") == render.API_KEYS_VARIABLE:
                    ref = variable.get("valueFrom", {}).get("secretKeyRef", {})
                    return ref["name"], ref["key"]
        return None


def api_key(google: cloud.Google, project: str, secret: str, version: str) -> str:
    """The first key of the pinned secret version (the service accepts any of them)."""
    path = f"/v1/projects/{cloud.quote(project)}/secrets/{cloud.quote(secret)}"
    answer = google.call("secretmanager", f"{path}/versions/{cloud.quote(version)}:access")
    data = answer.get("payload", {}).get("data", "")
    return base64.b64decode(data).decode().split(",")[0].strip()


def smoke_test(deployed: Deployed, google: cloud.Google, url: str) -> None:
    expected = smoke.load_expected(smoke.EXPECTED)
    client = smoke.Client(url.rstrip("/"))
    if not deployed.public:
        client.token = smoke.id_token(deployed.audience)
    keys = deployed.api_key_version()
    if keys:
        client.api_key = api_key(google, deployed.project, *keys)
    say(f"smoke {url}: {deployed.revision}, this release's model {expected['model_version']}")
    if not smoke.Smoke(client, expected, expect_private=not deployed.public).run():
        raise VerifyFailed(f"{deployed.revision} failed its smoke test at {url}")


def error_rate(google: cloud.Google, project: str, revision: str, since: str) -> tuple[int, int]:
    """(5xx, all) requests the revision answered since `since`, from Cloud Run's request log."""
    query = (
        'resource.type="cloud_run_revision" '
        f'AND resource.labels.revision_name="{revision}" '
        f'AND logName="projects/{project}/logs/run.googleapis.com%2Frequests" '
        f'AND timestamp>="{since}"'
    )
    body: dict[str, Any] = {
        "resourceNames": [f"projects/{project}"],
        "filter": query,
        "orderBy": "timestamp desc",
        "pageSize": 1000,
    }
    statuses: list[int] = []
    while len(statuses) < LOG_LIMIT:
        page = google.call("logging", "/v2/entries:list", body)
        statuses += [e.get("httpRequest", {}).get("status", 0) for e in page.get("entries", [])]
        if not page.get("nextPageToken"):
            break
        body["pageToken"] = page["nextPageToken"]
    return sum(1 for status in statuses if status >= 500), len(statuses)


def soak(
    deployed: Deployed,
    google: cloud.Google,
    percent: int,
    seconds: int,
    max_rate: float,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    say(f"{deployed.revision} has {percent} % of the traffic: watching its errors for {seconds} s")
    sleep(seconds)
    errors, requests = error_rate(google, deployed.project, deployed.revision, since)
    rate = errors / requests if requests else 0.0
    say(f"{deployed.revision}: {errors} of {requests} requests answered 5xx ({rate:.2%})")
    if not requests:
        say("no requests reached it: its error rate cannot be judged in this phase")
    if rate > max_rate:
        raise VerifyFailed(f"{rate:.2%} of its requests failed, above {max_rate:.2%}")


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("--region", required=True, help="the Cloud Run services' region")
    parse.add_argument("--canary-tag", default="candidate", help="default: %(default)s")
    parse.add_argument("--soak-seconds", type=int, default=300, help="default: %(default)s")
    parse.add_argument("--max-error-rate", type=float, default=0.02, help="default: %(default)s")
    return parse


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    args = parser().parse_args(argv)
    phase = environ.get("CLOUD_DEPLOY_PHASE", "")
    revision = environ.get("CLOUD_RUN_REVISION", "")
    target = environ.get("CLOUD_DEPLOY_TARGET", "")
    say(f"verify: target {target or '?'}, phase {phase or '?'}, revision {revision or '?'}")
    try:
        if not phase or not revision:
            raise VerifyFailed("CLOUD_DEPLOY_PHASE and CLOUD_RUN_REVISION must be set")
        google = cloud.Google.from_environment()
        project = cloud.metadata("project/project-id")
        deployed = Deployed.read(google, project, args.region, revision)
        canary = CANARY.fullmatch(phase)
        if phase == STABLE:
            smoke_test(deployed, google, deployed.url)
        elif canary and int(canary[1]) == 0:
            smoke_test(deployed, google, deployed.tag_url(args.canary_tag))
        elif canary:
            soak(deployed, google, int(canary[1]), args.soak_seconds, args.max_error_rate)
        else:
            raise VerifyFailed(f"no check is defined for the phase {phase!r}")
    except (VerifyFailed, cloud.CloudError, smoke.SmokeError, ValueError, KeyError) as error:
        say(f"FAIL verify: {error}")
        return 1
    say(f"PASS verify: {phase} of {revision}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
