"""Create this build's Cloud Deploy release, unless a newer commit already has one.

    python3 -m deploy.release --image-file=image.txt    # cloudbuild.yaml's last step
    python3 -m deploy.release --dry-run                 # print the service file; call nothing

The settings are cloudbuild.yaml's substitutions, passed as environment variables of the same
names. In order:

1. the service file (deploy/render.py) for this commit and the shipped model, written into the
   folder release/ beside a copy of deploy/skaffold.yaml: what the release uploads;
2. the commit-order guard: Cloud Deploy does not know commit order, and two pushes close together
   may finish out of order, so when a release of the pipeline already carries a newer commit time
   (its `commit-time` label) nothing is created, and the step says so and succeeds;
3. `gcloud deploy releases create`, with the pushed image by digest and the commit's labels.
   Cloud Deploy then rolls it out to staging, and the automations take it on (docs/deployment.md).

Standard library, and gcloud on PATH: this runs in Cloud Build's cloud-sdk image.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from deploy import render, smoke
from deploy.gcloud import GcloudFailed, gcloud, pipeline_flags

ROOT = Path(__file__).resolve().parents[1]
SKAFFOLD = ROOT / "deploy" / "skaffold.yaml"
#: What the release uploads: skaffold.yaml and the service file it names.
SOURCE = Path("release")
SERVICE_FILE = "service.yaml"
DIGEST = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")


class ReleaseFailed(Exception):
    """The release stops; the message says why and what to do."""


def say(line: str) -> None:
    print(line, flush=True)


def commit_time(environ: Mapping[str, str]) -> int:
    """_COMMIT_TIME when given (make release uploads no .git), else the checkout's HEAD."""
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
            "cannot tell this commit's time (no .git here): pass _COMMIT_TIME, as make release does"
        )
    return int(result.stdout.strip())


def settings_from(environ: Mapping[str, str]) -> render.Release:
    """This release's settings: the substitutions, the commit's time, the shipped model."""
    model = smoke.load_expected(smoke.EXPECTED)["model_version"]
    return render.Release.from_environment(environ, commit_time(environ), model)


def required(environ: Mapping[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not environ.get(name, "").strip()]
    if missing:
        raise ReleaseFailed(f"{', '.join(missing)} not set")
    return [environ[name].strip() for name in names]


def newer_release(releases: list[dict], mine: int) -> str | None:
    """The name of a release whose commit is newer than `mine`, if one is."""
    for release in releases:
        value = release.get("labels", {}).get(render.COMMIT_TIME_LABEL, "")
        if value.isdigit() and int(value) > mine:
            return release["name"].rsplit("/", 1)[-1]
    return None


def write_source(settings: render.Release, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SKAFFOLD, folder / "skaffold.yaml")
    service = folder / SERVICE_FILE
    service.write_text(render.to_yaml(render.service_document(settings)), encoding="utf-8")
    return service


def release(environ: Mapping[str, str], image_file: Path) -> int:
    project, build, pipeline, region, bucket = required(
        environ, "PROJECT_ID", "BUILD_ID", "_SERVICE", "_PIPELINE_REGION", "_SOURCE_BUCKET"
    )
    settings = settings_from(environ)
    image = image_file.read_text(encoding="utf-8").strip()
    if not DIGEST.fullmatch(image):
        raise ReleaseFailed(f"{image_file} holds {image!r}, not an image by digest (name@sha256:)")
    service = write_source(settings, SOURCE)
    say(f"--- {service}\n{service.read_text(encoding='utf-8')}---")
    where = pipeline_flags(pipeline, region, project)
    listed = json.loads(gcloud("deploy", "releases", "list", *where, "--format=json") or "[]")
    newer = newer_release(listed, settings.commit_time)
    if newer:
        say(
            f"no release: commit {settings.commit_sha[:7]} is older than the one release {newer} "
            "carries, and Cloud Deploy would make this one the newest"
        )
        return 0
    name = f"r-{settings.commit_sha[:7]}-{build[:8]}".lower()
    labels = ",".join(f"{key}={value}" for key, value in settings.labels.items())
    gcloud(
        "deploy", "releases", "create", name, *where,
        f"--source={SOURCE}", f"--gcs-source-staging-dir=gs://{bucket}/source",
        f"--images={render.IMAGE}={image}", f"--labels={labels}",
    )  # fmt: skip
    say(f"release {name} created: Cloud Deploy rolls it out to staging, then to prod")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("--image-file", type=Path, help="holds the pushed image by digest")
    parse.add_argument("--dry-run", action="store_true", help="print the service file only")
    args = parse.parse_args(argv)
    try:
        if args.dry_run:
            document = render.service_document(settings_from(os.environ))
            sys.stdout.write(render.to_yaml(document))
            return 0
        if not args.image_file:
            raise ReleaseFailed("--image-file is required (or --dry-run)")
        return release(os.environ, args.image_file)
    except (ReleaseFailed, GcloudFailed, render.ReleaseError, ValueError, OSError) as error:
        say(f"FAIL release: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
