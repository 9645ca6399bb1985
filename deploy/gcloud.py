"""The gcloud command as the release steps run it: never a prompt, each command in the log, a
failure one line that names the command and what gcloud said."""

from __future__ import annotations

import subprocess


class GcloudFailed(Exception):
    """A gcloud command that failed; the step stops with this message."""


def gcloud(*args: str) -> str:
    """Run gcloud and return what it prints."""
    command = ["gcloud", *args, "--quiet"]
    print("$ " + " ".join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise GcloudFailed(f"{' '.join(command[:4])} failed: {result.stderr.strip()}")
    return result.stdout


def pipeline_flags(pipeline: str, region: str, project: str) -> list[str]:
    """The flags that name a delivery pipeline for `gcloud deploy`."""
    return [f"--delivery-pipeline={pipeline}", f"--region={region}", f"--project={project}"]
