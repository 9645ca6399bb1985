"""Running the release path's programs here: cloudbuild.yaml's step environment as Cloud Build
would give it (the substitutions' defaults, resolved), and a stand-in gcloud on PATH
(tests/fixtures/fake-gcloud) that answers from a script and records every call. Nothing else can
stand in for Google Cloud on the machines that run the suite."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILD: dict[str, Any] = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text(encoding="utf-8"))
FAKE_BIN = ROOT / "tests" / "fixtures" / "fake-gcloud"
#: Cloud Build's own substitutions, as a build of this commit would have them.
BUILT_IN = {
    "PROJECT_ID": "soulsync-project",
    "BUILD_ID": "5e1f0c2a-93b4-4d11-8a0e-2f6b7c9d0e11",
    "COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
}
SERVICE = BUILD["substitutions"]["_SERVICE"]
PIPELINE_REGION = BUILD["substitutions"]["_PIPELINE_REGION"]
#: The release a build of BUILT_IN's commit creates (deploy/release.py names it so).
RELEASE = "r-0123456-5e1f0c2a"


def substitute(text: str, values: dict[str, str]) -> str:
    """${NAME} replaced as Cloud Build does with dynamic substitutions ($$ is a dollar)."""
    for _ in range(4):  # substitutions that name substitutions
        text = re.sub(r"(?<!\$)\$\{(_?[A-Z][A-Z0-9_]*)\}", lambda m: values[m[1]], text)
    return text.replace("$$", "$")


def step_environment(**substitutions: str) -> dict[str, str]:
    """options.env of cloudbuild.yaml, with the defaults and these substitutions."""
    values = {**BUILD["substitutions"], **BUILT_IN, **substitutions}
    pairs = (substitute(entry, values).split("=", 1) for entry in BUILD["options"]["env"])
    return dict(pairs)


def step(step_id: str) -> dict[str, Any]:
    return next(s for s in BUILD["steps"] if s["id"] == step_id)


@dataclass
class FakeCloud:
    """A build's workspace (the deploy package in it, as in a checkout) and a scripted gcloud."""

    folder: Path

    def __post_init__(self) -> None:
        (self.folder / "gcloud").mkdir(parents=True, exist_ok=True)
        (self.folder / "workspace").mkdir(exist_ok=True)
        (self.workspace / "deploy").symlink_to(ROOT / "deploy")
        self.replies({})

    @property
    def workspace(self) -> Path:
        return self.folder / "workspace"

    def replies(self, replies: dict[str, list[Any]]) -> None:
        """Command -> replies in turn; a dict or list reply is gcloud's JSON output."""
        scripted = {
            command: [
                reply
                if isinstance(reply, dict) and {"stdout", "stderr", "code"} & set(reply)
                else {"stdout": json.dumps(reply)}
                for reply in answers
            ]
            for command, answers in replies.items()
        }
        (self.folder / "gcloud" / "replies.json").write_text(json.dumps(scripted))
        (self.folder / "gcloud" / "used.json").unlink(missing_ok=True)

    def calls(self, *command: str) -> list[dict[str, Any]]:
        """The calls made so far, or those of one command ("deploy", "releases", ...)."""
        path = self.folder / "gcloud" / "calls.jsonl"
        calls = (
            [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        )
        return [c for c in calls if c["argv"][: len(command)] == list(command)]

    @property
    def environment(self) -> dict[str, str]:
        return {"PATH": f"{FAKE_BIN}:/usr/bin:/bin", "FAKE_GCLOUD": str(self.folder / "gcloud")}

    def run_step(self, step_id: str, **substitutions: str) -> subprocess.CompletedProcess[str]:
        """A python3 step's own command, in the workspace, with the build's environment and the
        standard library only (-E -s -S), as in Cloud Build's cloud-sdk image."""
        definition = step(step_id)
        assert definition["entrypoint"] == "python3"
        env = {**self.environment, **step_environment(**substitutions)}
        command = [sys.executable, "-E", "-s", "-S", *definition["args"]]
        return subprocess.run(
            command, cwd=self.workspace, env=env, capture_output=True, text=True, timeout=600
        )

    def make(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A make target of the repository, with the stand-in first on PATH."""
        env = {**os.environ, **self.environment}
        return subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip


def rollout(release: str, rollout_id: str, state: str, created: str, target: str = "prod") -> dict:
    """What `gcloud deploy rollouts list --format=json` gives: the fields the programs read."""
    pipeline = f"projects/soulsync-project/locations/{PIPELINE_REGION}/deliveryPipelines/{SERVICE}"
    return {
        "name": f"{pipeline}/releases/{release}/rollouts/{rollout_id}",
        "targetId": target,
        "state": state,
        "createTime": created,
    }


def release(name: str, commit_time: int | None = None) -> dict:
    """What `gcloud deploy releases list --format=json` gives: names and labels."""
    pipeline = f"projects/soulsync-project/locations/{PIPELINE_REGION}/deliveryPipelines/{SERVICE}"
    labels = {} if commit_time is None else {"commit-time": str(commit_time)}
    return {"name": f"{pipeline}/releases/{name}", "labels": labels}
