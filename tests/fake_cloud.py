"""Running cloudbuild.yaml's release steps here: their environment as Cloud Build would give it
(the substitutions' defaults, resolved), the step's own command, and a stand-in gcloud on PATH
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

ROOT = Path(__file__).resolve().parents[1]
BUILD: dict[str, Any] = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text(encoding="utf-8"))
FAKE_BIN = ROOT / "tests" / "fixtures" / "fake-gcloud"
#: Cloud Build's own substitutions, as a build of this commit would have them.
BUILT_IN = {
    "PROJECT_ID": "soulsync-project",
    "BUILD_ID": "5e1f0c2a-93b4-4d11-8a0e-2f6b7c9d0e11",
    "COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
}
SERVICE = BUILD["substitutions"]["_SERVICE"]
REGION = BUILD["substitutions"]["_REGION"]
#: The revision a build of BUILT_IN's commit creates (deploy/render.py names it so).
NEW = f"{SERVICE}-0123456-5e1f0c2a"
NEW_TAG = "candidate-0123456"


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
    """A workspace and a scripted gcloud."""

    folder: Path

    def __post_init__(self) -> None:
        (self.folder / "gcloud").mkdir(parents=True, exist_ok=True)
        (self.folder / "workspace").mkdir(exist_ok=True)
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
        """The calls made so far, or those of one command ("run", "services", ...)."""
        path = self.folder / "gcloud" / "calls.jsonl"
        calls = (
            [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        )
        return [c for c in calls if c["argv"][: len(command)] == list(command)]

    def run_step(
        self, step_id: str, *extra: str, **substitutions: str
    ) -> subprocess.CompletedProcess[str]:
        """The step's entrypoint and arguments, in the workspace, with the build's environment;
        the repository's scripts are run from where they lie."""
        definition = step(step_id)
        assert definition["entrypoint"] == "python3"
        script, *args = definition["args"]
        return self.run_script(script, *args, *extra, **substitutions)

    def run_script(
        self, script: str, *args: str, **substitutions: str
    ) -> subprocess.CompletedProcess[str]:
        """python3 SCRIPT ARGS as a release step runs it (as `make rollback` does too)."""
        env = {
            "PATH": f"{FAKE_BIN}:/usr/bin:/bin",
            "FAKE_GCLOUD": str(self.folder / "gcloud"),
            **step_environment(**substitutions),
            **{k: v for k, v in os.environ.items() if k == "GCE_METADATA_HOST"},
        }
        # -E -s -S: the standard library only, as in Cloud Build's cloud-sdk image.
        command = [sys.executable, "-E", "-s", "-S", str(ROOT / script), *args]
        return subprocess.run(
            command, cwd=self.workspace, env=env, capture_output=True, text=True, timeout=600
        )

    def state(self) -> dict[str, Any]:
        return json.loads((self.workspace / "release-state.json").read_text())


def service(traffic: list[dict[str, Any]], url: str = "https://soulsync.example.run.app") -> dict:
    """What `gcloud run services describe --format=json` gives: the fields the release reads."""
    return {
        "metadata": {"name": SERVICE},
        "status": {
            "url": url,
            "latestReadyRevisionName": traffic[0]["revisionName"],
            "traffic": traffic,
        },
    }


def revisions(labels_by_name: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """What `gcloud run revisions list --format=json` gives: names and labels."""
    return [
        {"metadata": {"name": name, "labels": labels}} for name, labels in labels_by_name.items()
    ]


#: The shipped model's version: a revision labelled with it serves the same model as the build.
SHIPPED_VERSION = json.loads(
    (Path(__file__).resolve().parents[1] / "soulsync" / "model" / "model_card.json").read_text()
)["version"]


def labels(commit_time: int, model: str = SHIPPED_VERSION) -> dict[str, str]:
    return {"commit-sha": "f" * 40, "commit-time": str(commit_time), "model-version": model}
