#!/usr/bin/env python3
"""Release this build to Cloud Run without giving it traffic before it has passed its checks.

    python3 scripts/release.py deploy     # the new revision, tagged, with no traffic
    python3 scripts/release.py smoke      # deploy/smoke.py against the tag's URL
    python3 scripts/release.py promote    # move traffic, in steps when the model changes
    python3 scripts/release.py rollback   # all traffic back to the revision tagged `previous`
    python3 scripts/release.py promote --revision NAME   # release a tested, held revision

cloudbuild.yaml runs the first three, in order, as steps of their own; `make rollback` and
`make promote` run the others. The settings are the build's substitutions, passed as
environment variables of the same names (deploy/render.py). The steps share what they found in
release-state.json, in the build's workspace.

Rules (docs/deployment.md):
- deploy carries the traffic, tags and splits the service has now into the manifest and adds
  this build's revision with 0 % under the tag candidate-<commit>; a failure leaves the old
  revision serving everything;
- a build whose commit is older than the serving revision's deploys nothing and promotes
  nothing (two pushes close together may finish out of order);
- promote refuses while the service is held: traffic not all on the revision tagged
  `current` (after `make rollback`, or a split made by hand), until someone runs
  `make promote REVISION=...`;
- when the model version changes, traffic moves in steps (_ROLLOUT_STEPS), each held for
  _ROLLOUT_SOAK_SECONDS while the new revision's share of 5xx in Cloud Run's request logs
  stays within _MAX_ERROR_RATE; above it, traffic goes back and the build fails.

Only the standard library, and gcloud on PATH: this runs in Cloud Build's cloud-sdk image.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the deploy package, beside scripts/

from deploy import render as manifest  # noqa: E402
from deploy import smoke  # noqa: E402

STATE = Path("release-state.json")
MANIFEST_FILE = Path("service.yaml")
CURRENT, PREVIOUS = "current", "previous"
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}
#: Most request-log entries read to judge one rollout step.
LOG_LIMIT = 10000


class ReleaseFailed(Exception):
    """The release stops; the message says why and what to do."""


def say(line: str) -> None:
    print(line, flush=True)


def gcloud(*args: str, secret: bool = False) -> str:
    """Run gcloud and return what it prints; the command goes to the log, and its output too
    unless it is a secret."""
    command = ["gcloud", *args, "--quiet"]  # never a prompt in a build
    say("$ " + " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ReleaseFailed(f"{' '.join(command[:4])} failed: {result.stderr.strip()}")
    if not secret and result.stdout.strip() and "--format=json" not in args:
        say(result.stdout.rstrip())
    return result.stdout


@dataclass(frozen=True)
class Where:
    project: str
    region: str
    service: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Where:
        missing = [name for name in ("PROJECT_ID", "_REGION", "_SERVICE") if not environ.get(name)]
        if missing:
            raise ReleaseFailed(f"{', '.join(missing)} not set")
        return cls(environ["PROJECT_ID"], environ["_REGION"], environ["_SERVICE"])

    def describe(self) -> dict[str, Any] | None:
        """The service as Cloud Run has it, or None before the first deploy."""
        command = ["gcloud", "run", "services", "describe", self.service]
        command += [*self.flags, "--format=json", "--quiet"]
        say("$ " + " ".join(command))
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            if "not found" in result.stderr.lower() or "cannot find" in result.stderr.lower():
                return None
            raise ReleaseFailed(f"gcloud run services describe failed: {result.stderr.strip()}")
        return json.loads(result.stdout)

    def revision_labels(self) -> dict[str, dict[str, str]]:
        """Each revision's labels, by name."""
        listed = gcloud(
            "run", "revisions", "list", f"--service={self.service}", *self.flags, "--format=json"
        )
        return {r["metadata"]["name"]: r["metadata"].get("labels", {}) for r in json.loads(listed)}

    def public_members(self) -> set[str]:
        policy = gcloud(
            "run", "services", "get-iam-policy", self.service, *self.flags, "--format=json"
        )
        bindings = json.loads(policy or "{}").get("bindings", [])
        return {
            member
            for binding in bindings
            if binding.get("role") == "roles/run.invoker"
            for member in binding.get("members", [])
            if member in PUBLIC_MEMBERS
        }

    def update_traffic(self, *flags: str) -> None:
        gcloud("run", "services", "update-traffic", self.service, *self.flags, *flags)

    @property
    def flags(self) -> list[str]:
        return [f"--region={self.region}", f"--project={self.project}"]

    def rollback_command(self) -> str:
        return (
            f"make rollback  (gcloud run services update-traffic {self.service} "
            f"--region={self.region} --project={self.project} --to-tags={PREVIOUS}=100)"
        )


# --- what the service has now ----------------------------------------------------------------


def traffic_entries(service: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The service's traffic as Cloud Run resolved it: revision, percent, tag (a target that
    follows the latest revision is pinned to the revision it names now)."""
    if not service:
        return []
    status = service.get("status", {})
    entries = []
    for entry in status.get("traffic", []):
        revision = entry.get("revisionName") or status.get("latestReadyRevisionName")
        if revision:
            entries.append(
                {"revision": revision, "percent": entry.get("percent", 0), "tag": entry.get("tag")}
            )
    return entries


def serving(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Revision -> percent, for the revisions that have traffic."""
    shares: dict[str, int] = {}
    for entry in entries:
        if entry["percent"]:
            shares[entry["revision"]] = shares.get(entry["revision"], 0) + entry["percent"]
    return shares


def tagged(entries: list[dict[str, Any]], tag: str) -> str | None:
    return next((e["revision"] for e in entries if e["tag"] == tag), None)


def commit_time(labels: dict[str, str]) -> int:
    """A revision's commit time (0 for a revision that no release made)."""
    value = labels.get(manifest.COMMIT_TIME_LABEL, "")
    return int(value) if value.isdigit() else 0


def held_because(entries: list[dict[str, Any]]) -> str | None:
    """Why the service must not be promoted automatically, or None."""
    shares = serving(entries)
    current = tagged(entries, CURRENT)
    if len(shares) > 1:
        split = ", ".join(f"{name} {percent} %" for name, percent in sorted(shares.items()))
        return f"traffic is split by hand ({split})"
    if current and shares and current not in shares:
        [serving_now] = shares
        return (
            f"traffic is on {serving_now}, not on the revision tagged {CURRENT} ({current}): "
            "the service was rolled back"
        )
    return None


def newer_serving(
    entries: list[dict[str, Any]], labels: dict[str, dict[str, str]], mine: int
) -> str | None:
    """The serving revision whose commit is newer than `mine`, if one is."""
    for revision in serving(entries):
        if commit_time(labels.get(revision, {})) > mine:
            return revision
    return None


def carried_traffic(
    entries: list[dict[str, Any]], labels: dict[str, dict[str, str]], release: manifest.Release
) -> list[dict[str, Any]]:
    """The manifest's traffic: what the service has now, exactly, plus this revision with 0 %
    under its tag. Candidate tags of revisions no newer than this one are dropped (they can no
    longer be promoted); a first deploy has nothing to keep, so its revision gets everything."""
    if not serving(entries):
        return [{"revisionName": release.revision, "percent": 100, "tag": release.tag}]
    traffic = []
    for entry in entries:
        tag = entry["tag"]
        superseded = (
            tag
            and tag.startswith(manifest.CANDIDATE_PREFIX)
            and commit_time(labels.get(entry["revision"], {})) <= release.commit_time
        )
        if superseded:
            tag = None
        if entry["percent"] or tag:
            target: dict[str, Any] = {
                "revisionName": entry["revision"],
                "percent": entry["percent"],
            }
            if tag:
                target["tag"] = tag
            traffic.append(target)
    traffic.append({"revisionName": release.revision, "percent": 0, "tag": release.tag})
    return traffic


# --- the steps -----------------------------------------------------------------------------


def this_commit_time(environ: Mapping[str, str]) -> int:
    """_COMMIT_TIME when given (make deploy uploads no .git), else the checkout's HEAD."""
    given = environ.get("_COMMIT_TIME", "").strip()
    if given:
        if not given.isdigit():
            raise ReleaseFailed(f"_COMMIT_TIME: {given!r} is not seconds since the epoch")
        return int(given)
    result = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], capture_output=True, text=True, cwd=ROOT
    )
    if result.returncode != 0 or not result.stdout.strip().isdigit():
        raise ReleaseFailed(
            "cannot tell this commit's time (no .git here): pass _COMMIT_TIME, as make deploy does"
        )
    return int(result.stdout.strip())


def release_from(environ: Mapping[str, str]) -> manifest.Release:
    expected = smoke.load_expected(smoke.EXPECTED)
    try:
        return manifest.Release.from_environment(
            environ, this_commit_time(environ), expected["model_version"]
        )
    except manifest.ReleaseError as error:
        raise ReleaseFailed(str(error)) from error


def deploy(environ: Mapping[str, str], state: Path) -> int:
    release = release_from(environ)
    where = Where(release.project, release.region, release.service)
    service = where.describe()
    entries = traffic_entries(service)
    labels = where.revision_labels() if service else {}
    if service and not release.public:
        public = where.public_members()
        if public:
            raise ReleaseFailed(
                f"the service is public: roles/run.invoker is granted to "
                f"{', '.join(sorted(public))} (left by an older deploy), while _PUBLIC is false. "
                f"Remove it: gcloud run "
                f"services remove-iam-policy-binding {where.service} {' '.join(where.flags)} "
                f"--member={sorted(public)[0]} --role=roles/run.invoker"
            )
    newer = newer_serving(entries, labels, release.commit_time)
    if newer:
        reason = (
            f"not deployed: commit {release.commit_sha[:7]} is older than the one {newer} "
            "serves; the newer build keeps the traffic"
        )
        say(reason)
        state.write_text(json.dumps({"skip": reason}), encoding="utf-8")
        return 0
    document = manifest.service_manifest(release, carried_traffic(entries, labels, release))
    text = manifest.to_yaml(document)
    MANIFEST_FILE.write_text(text, encoding="utf-8")
    say(f"--- {MANIFEST_FILE}\n{text}---")
    gcloud("run", "services", "replace", str(MANIFEST_FILE), *where.flags)
    after = where.describe() or {}
    url = next(
        (
            t.get("url")
            for t in after.get("status", {}).get("traffic", [])
            if t.get("tag") == release.tag
        ),
        None,
    )
    if not url:
        raise ReleaseFailed(f"Cloud Run gave the tag {release.tag} no URL")
    found = {
        "revision": release.revision,
        "tag": release.tag,
        "url": url,
        "service_url": after["status"]["url"],
        "commit_time": release.commit_time,
        "model_version": release.model_version,
        "public": release.public,
        "api_keys_secret": release.api_keys_secret,
        "api_keys_version": release.api_keys_version,
    }
    state.write_text(json.dumps(found, indent=2), encoding="utf-8")
    say(f"deployed {release.revision} with no traffic, at {url}")
    return 0


def smoke_step(environ: Mapping[str, str], state: Path) -> int:
    found = json.loads(state.read_text(encoding="utf-8"))
    if "skip" in found:
        say(found["skip"])
        return 0
    arguments = [found["url"]]
    if not found["public"]:
        arguments += ["--id-token-audience", found["service_url"], "--expect-private"]
    if found["api_keys_version"]:
        key = gcloud(
            "secrets",
            "versions",
            "access",
            found["api_keys_version"],
            f"--secret={found['api_keys_secret']}",
            f"--project={environ['PROJECT_ID']}",
            secret=True,
        )
        os.environ[smoke.API_KEY_VARIABLE] = key.strip().split(",")[0].strip()
    code = smoke.main(arguments)
    if code:
        say(f"{found['revision']} keeps 0 % of the traffic: the revision serving now keeps it all")
    return code


def error_rate(where: Where, revision: str, since: str) -> tuple[int, int]:
    """(5xx, all) requests the revision answered since `since`, from Cloud Run's request log."""
    query = (
        'resource.type="cloud_run_revision" '
        f'AND resource.labels.service_name="{where.service}" '
        f'AND resource.labels.revision_name="{revision}" '
        f'AND logName="projects/{where.project}/logs/run.googleapis.com%2Frequests" '
        f'AND timestamp>="{since}"'
    )
    entries = json.loads(
        gcloud(
            "logging",
            "read",
            query,
            f"--project={where.project}",
            f"--limit={LOG_LIMIT}",
            "--format=json",
        )
        or "[]"
    )
    statuses = [e.get("httpRequest", {}).get("status", 0) for e in entries]
    return sum(1 for status in statuses if status >= 500), len(statuses)


@dataclass(frozen=True)
class Rollout:
    steps: tuple[int, ...]
    soak_seconds: int
    max_error_rate: float

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Rollout:
        try:
            steps = tuple(int(p) for p in environ.get("_ROLLOUT_STEPS", "").split(",") if p.strip())
            soak = int(environ.get("_ROLLOUT_SOAK_SECONDS", "0"))
            rate = float(environ.get("_MAX_ERROR_RATE", "0"))
        except ValueError as error:
            raise ReleaseFailed(
                f"_ROLLOUT_STEPS, _ROLLOUT_SOAK_SECONDS or _MAX_ERROR_RATE: {error}"
            ) from error
        if list(steps) != sorted(set(steps)) or not all(0 < p < 100 for p in steps):
            raise ReleaseFailed(f"_ROLLOUT_STEPS: {steps} are not rising percents below 100")
        return cls(steps, soak, rate)


def promote(
    environ: Mapping[str, str],
    state: Path | None,
    revision: str | None = None,
    sleep=time.sleep,
) -> int:
    where = Where.from_environment(environ)
    if state is not None:
        found = json.loads(state.read_text(encoding="utf-8"))
        if "skip" in found:
            say(found["skip"])
            return 0
        revision = found["revision"]
    service = where.describe()
    entries = traffic_entries(service)
    labels = where.revision_labels()
    if revision not in labels:
        raise ReleaseFailed(f"the service has no revision {revision}")
    mine = labels[revision]
    shares = serving(entries)
    if shares == {revision: 100}:  # a first deploy: it already has everything
        where.update_traffic(f"--update-tags={CURRENT}={revision}")
        say(f"{revision} serves all traffic (the service's first release)")
        return 0
    reason = held_because(entries)
    if reason and state is not None:
        say(
            f"NOT PROMOTED: {reason}. {revision} passed its checks and keeps 0 %; to release it: "
            f"make promote REVISION={revision}"
        )
        return 1
    newer = newer_serving(entries, labels, commit_time(mine))
    if newer and state is not None:
        say(f"not promoted: {newer} serves a newer commit than {revision}")
        return 0
    old = max(shares, key=shares.__getitem__)  # the only one, unless a split is overridden
    rollout = Rollout.from_environment(environ)
    changed = mine.get(manifest.MODEL_LABEL) != labels.get(old, {}).get(manifest.MODEL_LABEL)
    say(f"promoting {revision} over {old}; to roll back: {where.rollback_command()}")
    steps = rollout.steps if changed else ()
    if changed:
        say(
            f"the model changes ({labels.get(old, {}).get(manifest.MODEL_LABEL)} -> "
            f"{mine.get(manifest.MODEL_LABEL)}): traffic moves in steps of "
            f"{', '.join(map(str, steps))} %"
        )
    for percent in steps:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        where.update_traffic(
            f"--to-revisions={revision}={percent},{old}={100 - percent}",
            f"--update-tags={PREVIOUS}={old}",
        )
        say(f"{revision} has {percent} %; watching its errors for {rollout.soak_seconds} s")
        sleep(rollout.soak_seconds)
        errors, requests = error_rate(where, revision, since)
        rate = errors / requests if requests else 0.0
        say(f"{revision}: {errors} of {requests} requests answered 5xx ({rate:.2%})")
        if not requests:
            say("no requests reached it: its error rate cannot be judged at this step")
        if rate > rollout.max_error_rate:
            where.update_traffic(f"--to-revisions={old}=100")
            say(
                f"ROLLED BACK: {rate:.2%} of its requests failed, above "
                f"{rollout.max_error_rate:.2%}; {old} serves everything again"
            )
            return 1
    where.update_traffic(
        f"--to-revisions={revision}=100",
        f"--update-tags={CURRENT}={revision},{PREVIOUS}={old}",
    )
    say(
        f"{revision} serves all traffic; {old} is tagged {PREVIOUS}. "
        f"To roll back: {where.rollback_command()}"
    )
    return 0


def rollback(environ: Mapping[str, str]) -> int:
    where = Where.from_environment(environ)
    entries = traffic_entries(where.describe())
    previous = tagged(entries, PREVIOUS)
    if not previous:
        raise ReleaseFailed(f"no revision is tagged {PREVIOUS}: there is nothing to roll back to")
    where.update_traffic(f"--to-tags={PREVIOUS}=100")
    say(
        f"{previous} serves all traffic. The next push deploys and checks its revision but does "
        f"not promote it until someone runs: make promote REVISION=<its name>"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("step", choices=["deploy", "smoke", "promote", "rollback"])
    parse.add_argument("--state", type=Path, default=STATE, help="default: %(default)s")
    parse.add_argument("--revision", help="promote: this revision, whatever the state file says")
    args = parse.parse_args(argv)
    environ = os.environ
    try:
        if args.step == "deploy":
            return deploy(environ, args.state)
        if args.step == "smoke":
            return smoke_step(environ, args.state)
        if args.step == "promote":
            state = None if args.revision else args.state
            return promote(environ, state, args.revision)
        return rollback(environ)
    except (ReleaseFailed, ValueError, OSError) as error:
        say(f"FAIL {args.step}: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
