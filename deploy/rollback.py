"""Roll a target back, after cancelling what is in flight on it.

    python3 -m deploy.rollback --project=P --region=R --pipeline=NAME [--target=prod]

`make rollback` runs it. In order:

1. every rollout on the target that has not finished (in progress, pending, waiting for
   approval) is cancelled: Cloud Deploy queues rollouts to one target, and a cancelled rollout
   can no longer be advanced, so nothing in flight can undo the rollback afterwards;
2. `gcloud deploy targets rollback`, naming the rollout it means to undo (--rollback-of-rollout,
   so that it fails rather than undo another one if the target moved meanwhile):
   - when a rollout was in flight (or the latest one failed), back to the last release that
     completed on the target: what served before that rollout began;
   - otherwise, back to the release before the one serving now (gcloud's own choice).

Standard library, and gcloud on PATH, logged in with roles/clouddeploy.releaser.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from deploy.gcloud import GcloudFailed, gcloud, pipeline_flags

#: Rollouts that have not finished, by Cloud Deploy's states.
IN_FLIGHT = {"IN_PROGRESS", "PENDING", "PENDING_APPROVAL", "PENDING_RELEASE", "HALTED"}
#: How many of the newest releases are searched for the target's rollouts.
RECENT_RELEASES = 10


class RollbackFailed(Exception):
    """The rollback stops; the message says why."""


def release_of(rollout: dict) -> str:
    """The release ID in a rollout's name (.../releases/ID/rollouts/ID)."""
    return rollout["name"].split("/releases/", 1)[1].split("/", 1)[0]


def rollback(project: str, region: str, pipeline: str, target: str) -> int:
    where = pipeline_flags(pipeline, region, project)
    releases = json.loads(
        gcloud(
            "deploy", "releases", "list", *where, "--sort-by=~createTime",
            f"--limit={RECENT_RELEASES}", "--format=json",
        ) or "[]"
    )  # fmt: skip
    rollouts = []
    for release in releases:
        name = release["name"].rsplit("/", 1)[-1]
        listed = gcloud("deploy", "rollouts", "list", f"--release={name}", *where, "--format=json")
        rollouts += [r for r in json.loads(listed or "[]") if r.get("targetId") == target]
    rollouts.sort(key=lambda r: r.get("createTime", ""), reverse=True)
    if not rollouts:
        raise RollbackFailed(f"{target} has no rollout in the newest {RECENT_RELEASES} releases")
    cancelled = [r for r in rollouts if r.get("state") in IN_FLIGHT]
    for rollout in cancelled:
        rollout_id = rollout["name"].rsplit("/", 1)[-1]
        gcloud(
            "deploy", "rollouts", "cancel", rollout_id, f"--release={release_of(rollout)}", *where
        )
        print(f"cancelled {rollout_id} ({rollout['state']})", flush=True)
    latest = rollouts[0]
    command = ["deploy", "targets", "rollback", target, *where]
    command.append(f"--rollback-of-rollout={latest['name']}")
    if latest.get("state") != "SUCCEEDED":
        good = next((r for r in rollouts if r.get("state") == "SUCCEEDED"), None)
        if good is None:
            raise RollbackFailed(f"no rollout ever completed on {target}: nothing to go back to")
        command.append(f"--release={release_of(good)}")
    gcloud(*command)
    print(f"{target} is rolling back; `make status` follows it", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("--project", required=True)
    parse.add_argument("--region", required=True)
    parse.add_argument("--pipeline", required=True)
    parse.add_argument("--target", default="prod")
    args = parse.parse_args(argv)
    try:
        return rollback(args.project, args.region, args.pipeline, args.target)
    except (RollbackFailed, GcloudFailed, KeyError, IndexError, ValueError) as error:
        print(f"FAIL rollback: {error}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
