"""The Cloud Run service manifest of one release: everything the service runs with, so that
`gcloud run services replace` installs the same service on every push (settings, API keys from
Secret Manager at a pinned version, the runtime account, who may call it, the metrics collector)
and carries the traffic it is given.

Only the standard library: release.py runs it in Cloud Build's cloud-sdk image. The settings
come from the build's substitutions, passed to the step as environment variables of the same
names (cloudbuild.yaml, `options.env`); a bad one stops the build naming the substitution.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Where the service's own container listens (the image's PORT).
CONTAINER_PORT = 8080
#: What the service answers once the model is loaded and warmed up, and while it lives. Cloud
#: Run's probes reach the container directly, so /healthz is fine here although Google's front
#: end reserves it on *.run.app (clients use /health).
STARTUP_PATH, LIVENESS_PATH = "/readyz", "/healthz"
#: Revision labels the release reads back (release.py): Cloud Run label values are lowercase
#: letters, digits, '_' and '-', at most 63 characters.
COMMIT_LABEL, COMMIT_TIME_LABEL, MODEL_LABEL = "commit-sha", "commit-time", "model-version"
#: The tag a release gives its revision while it has no traffic.
CANDIDATE_PREFIX = "candidate-"
LABEL_VALUE = re.compile(r"[a-z0-9_-]{1,63}")
NAME = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
#: Settings the manifest itself sets; _SETTINGS may not name them.
MANIFEST_SETTINGS = frozenset(
    {"PORT", "SOULSYNC_GCP_PROJECT", "WEB_CONCURRENCY", "GUNICORN_WORKER_CONNECTIONS"}
    | {"SOULSYNC_CORS_ORIGINS", "SOULSYNC_API_KEYS", "SOULSYNC_METRICS_PORT"}
)
#: The collector's scrape configuration is mounted here (the sidecar reads config.yaml in it).
COLLECTOR_CONFIG_DIR = "/etc/rungmp"


class ReleaseError(ValueError):
    """A setting that cannot make a release; the message names the substitution."""


@dataclass(frozen=True)
class Release:
    """One release's settings: the build's substitutions (without their leading '_'), its
    commit, and what the build ships."""

    project: str
    region: str
    service: str
    image: str
    commit_sha: str
    build_id: str
    commit_time: int
    model_version: str
    runtime_account: str
    cpu: str
    memory: str
    concurrency: int
    min_instances: int
    max_instances: int
    workers: int
    worker_connections: int
    cors_origins: str
    settings: tuple[tuple[str, str], ...]
    api_keys_secret: str
    api_keys_version: str
    public: bool
    metrics_sidecar: bool
    sidecar_image: str
    sidecar_config: str
    sidecar_config_version: str
    sidecar_cpu: str
    sidecar_memory: str

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], commit_time: int, model_version: str
    ) -> Release:
        read = _Reader(environ)
        release = cls(
            project=read.text("PROJECT_ID"),
            region=read.text("_REGION"),
            service=read.name("_SERVICE"),
            image=f"{read.text('_IMAGE')}:{read.text('COMMIT_SHA')}",
            commit_sha=read.label("COMMIT_SHA"),
            build_id=read.text("BUILD_ID"),
            commit_time=commit_time,
            model_version=model_version,
            runtime_account=read.text("_RUNTIME_ACCOUNT"),
            cpu=read.text("_CPU"),
            memory=read.text("_MEMORY"),
            concurrency=read.number("_CONCURRENCY"),
            min_instances=read.number("_MIN_INSTANCES", minimum=0),
            max_instances=read.number("_MAX_INSTANCES"),
            workers=read.number("_WORKERS"),
            worker_connections=read.number("_WORKER_CONNECTIONS"),
            cors_origins=read.text("_CORS_ORIGINS", optional=True),
            settings=read.settings("_SETTINGS"),
            api_keys_secret=read.text("_API_KEYS_SECRET"),
            api_keys_version=read.version("_API_KEYS_VERSION", optional=True),
            public=read.flag("_PUBLIC"),
            metrics_sidecar=read.flag("_METRICS_SIDECAR"),
            sidecar_image=read.text("_METRICS_SIDECAR_IMAGE"),
            sidecar_config=read.text("_METRICS_SIDECAR_CONFIG"),
            sidecar_config_version=read.version("_METRICS_SIDECAR_CONFIG_VERSION"),
            sidecar_cpu=read.text("_METRICS_SIDECAR_CPU"),
            sidecar_memory=read.text("_METRICS_SIDECAR_MEMORY"),
        )
        for label in (str(release.commit_time), release.model_version):
            if not LABEL_VALUE.fullmatch(label):
                raise ReleaseError(f"{label!r} cannot be a revision label")
        if not NAME.fullmatch(release.revision) or len(release.revision) > 63:
            raise ReleaseError(f"_SERVICE: the revision name {release.revision!r} is too long")
        return release

    @property
    def revision(self) -> str:
        """This build's revision: the service's name, the commit and the build (unique)."""
        return f"{self.service}-{self.commit_sha[:7]}-{self.build_id[:8].lower()}"

    @property
    def tag(self) -> str:
        """The tag that gives the revision a URL of its own while it has no traffic."""
        return f"{CANDIDATE_PREFIX}{self.commit_sha[:7]}"

    @property
    def runtime_email(self) -> str:
        return f"{self.runtime_account}@{self.project}.iam.gserviceaccount.com"

    @property
    def api_keys(self) -> bool:
        return bool(self.api_keys_version)


class _Reader:
    """Reads substitutions from the environment; a bad one raises ReleaseError naming it."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, optional: bool = False) -> str:
        value = self.environ.get(name, "").strip()
        if not value and not optional:
            raise ReleaseError(f"{name} is not set")
        return value

    def name(self, name: str) -> str:
        value = self.text(name)
        if not NAME.fullmatch(value):
            raise ReleaseError(f"{name}: {value!r} is not a Cloud Run service name")
        return value

    def label(self, name: str) -> str:
        value = self.text(name)
        if not LABEL_VALUE.fullmatch(value):
            raise ReleaseError(f"{name}: {value!r} cannot be a revision label")
        return value

    def number(self, name: str, minimum: int = 1) -> int:
        value = self.text(name)
        if not value.isdigit() or int(value) < minimum:
            raise ReleaseError(f"{name}: {value!r} is not a whole number from {minimum}")
        return int(value)

    def flag(self, name: str) -> bool:
        value = self.text(name)
        if value not in ("true", "false"):
            raise ReleaseError(f"{name}: {value!r} is neither true nor false")
        return value == "true"

    def version(self, name: str, optional: bool = False) -> str:
        """A secret version pinned by its number: Cloud Run resolves an environment variable's
        secret when an instance starts, so "latest" would let revisions differ."""
        value = self.text(name, optional)
        if value and not value.isdigit():
            raise ReleaseError(
                f"{name}: {value!r} is not a secret version number (pin one: 'latest' would "
                "change under a running service)"
            )
        return value

    def settings(self, name: str) -> tuple[tuple[str, str], ...]:
        """NAME=value pairs separated by ';' (values may hold commas)."""
        pairs = []
        for item in filter(None, (part.strip() for part in self.text(name, True).split(";"))):
            key, sep, value = item.partition("=")
            if not sep or not ENV_NAME.fullmatch(key):
                raise ReleaseError(f"{name}: {item!r} is not NAME=value")
            if key in MANIFEST_SETTINGS:
                raise ReleaseError(f"{name}: {key} is set by a substitution of its own")
            pairs.append((key, value))
        return tuple(pairs)


def service_manifest(release: Release, traffic: list[dict[str, Any]]) -> dict[str, Any]:
    """The Knative Service document for `gcloud run services replace`."""
    service_annotations = {}
    if release.public:
        # Google's recommended public service: no invoker check, no allUsers binding.
        service_annotations["run.googleapis.com/invoker-iam-disabled"] = "true"
    template_annotations = {
        "autoscaling.knative.dev/minScale": str(release.min_instances),
        "autoscaling.knative.dev/maxScale": str(release.max_instances),
        "run.googleapis.com/startup-cpu-boost": "true",
    }
    containers = [_service_container(release)]
    volumes = []
    if release.metrics_sidecar:
        # The collector starts once the service is started, and scrapes best with CPU always
        # allocated (instance-based billing), as Google's page on the sidecar recommends.
        template_annotations["run.googleapis.com/container-dependencies"] = json.dumps(
            {"collector": ["service"]}, separators=(",", ":")
        )
        template_annotations["run.googleapis.com/cpu-throttling"] = "false"
        containers.append(
            {
                "name": "collector",
                "image": release.sidecar_image,
                "resources": {
                    "limits": {"cpu": release.sidecar_cpu, "memory": release.sidecar_memory}
                },
                "volumeMounts": [{"name": "run-monitoring", "mountPath": COLLECTOR_CONFIG_DIR}],
            }
        )
        volumes.append(
            {
                "name": "run-monitoring",
                "secret": {
                    "secretName": release.sidecar_config,
                    "items": [{"key": release.sidecar_config_version, "path": "config.yaml"}],
                },
            }
        )
    spec: dict[str, Any] = {
        "serviceAccountName": release.runtime_email,
        "containerConcurrency": release.concurrency,
        "timeoutSeconds": 30,
        "containers": containers,
    }
    if volumes:
        spec["volumes"] = volumes
    metadata: dict[str, Any] = {
        "name": release.service,
        "labels": {"cloud.googleapis.com/location": release.region},
    }
    if service_annotations:
        metadata["annotations"] = service_annotations
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "template": {
                "metadata": {
                    "name": release.revision,
                    "labels": {
                        COMMIT_LABEL: release.commit_sha,
                        COMMIT_TIME_LABEL: str(release.commit_time),
                        MODEL_LABEL: release.model_version,
                    },
                    "annotations": template_annotations,
                },
                "spec": spec,
            },
            "traffic": traffic,
        },
    }


def _service_container(release: Release) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "SOULSYNC_GCP_PROJECT", "value": release.project},
        {"name": "WEB_CONCURRENCY", "value": str(release.workers)},
        {"name": "GUNICORN_WORKER_CONNECTIONS", "value": str(release.worker_connections)},
    ]
    if release.cors_origins:
        env.append({"name": "SOULSYNC_CORS_ORIGINS", "value": release.cors_origins})
    env += [{"name": key, "value": value} for key, value in release.settings]
    if release.api_keys:
        secret = {"name": release.api_keys_secret, "key": release.api_keys_version}
        env.append({"name": "SOULSYNC_API_KEYS", "valueFrom": {"secretKeyRef": secret}})
    return {
        "name": "service",
        "image": release.image,
        "ports": [{"name": "http1", "containerPort": CONTAINER_PORT}],
        "env": env,
        "resources": {"limits": {"cpu": release.cpu, "memory": release.memory}},
        "startupProbe": {
            "httpGet": {"path": STARTUP_PATH, "port": CONTAINER_PORT},
            "periodSeconds": 1,
            "timeoutSeconds": 1,
            "failureThreshold": 10,
        },
        "livenessProbe": {
            "httpGet": {"path": LIVENESS_PATH, "port": CONTAINER_PORT},
            "periodSeconds": 30,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
    }


_PLAIN_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9./_-]*")


def to_yaml(document: Any, indent: int = 0) -> str:
    """Block-style YAML: every string double-quoted (JSON's quoting, which YAML reads alike),
    so that no value is ever read as a number, a boolean or a date."""
    pad = " " * indent
    if isinstance(document, dict):
        if not document:
            return pad + "{}\n"
        lines = []
        for key, value in document.items():
            name = key if _PLAIN_KEY.fullmatch(key) else json.dumps(key)
            if isinstance(value, (dict, list)) and value:
                lines.append(f"{pad}{name}:\n{to_yaml(value, indent + 2)}")
            else:
                lines.append(f"{pad}{name}: {_scalar(value)}\n")
        return "".join(lines)
    if isinstance(document, list):
        if not document:
            return pad + "[]\n"
        lines = []
        for item in document:
            if isinstance(item, (dict, list)) and item:
                body = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {body[indent + 2 :]}")
            else:
                lines.append(f"{pad}- {_scalar(item)}\n")
        return "".join(lines)
    return pad + _scalar(document) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)
