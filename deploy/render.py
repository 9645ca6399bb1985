"""The Cloud Run service file of one release: everything the service runs with (settings, API keys
from Secret Manager at a pinned version, the runtime account, who may call it, probes, the
optional metrics collector), written for Cloud Deploy.

    python3 -m deploy.release --dry-run     # prints the file for cloudbuild.yaml's settings

What Cloud Deploy fills in, and what the file therefore leaves open:
- the image: the placeholder IMAGE, which `gcloud deploy releases create --images` replaces with
  the pushed image by digest;
- the values that differ per target (the service's name, its minimum and maximum instances):
  deploy parameters, each a `# from-param: ${name}` placeholder with a default,
  set on every target in deploy/clouddeploy.yaml;
- traffic: no `traffic` stanza (Cloud Deploy splits traffic between the last good revision and
  the new one) and no revision name (a rollback deploys an old release's file again, which a
  fixed name would collide with).

The settings come from the build's substitutions, passed to the step as environment variables of
the same names (cloudbuild.yaml, `options.env`); a bad one stops the build naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The image name in the file; the release replaces it with the image this build pushed (and so
#: does skaffold in the verify container, deploy/skaffold.yaml).
IMAGE = "soulsync-model-endpoint"
#: Where the service's own container listens (the image's PORT).
CONTAINER_PORT = 8080
#: What the service answers once the model is loaded and warmed up, and while it lives. Cloud
#: Run's probes reach the container directly, so /healthz is fine here although Google's front
#: end reserves it on *.run.app (clients use /health).
STARTUP_PATH, LIVENESS_PATH = "/readyz", "/healthz"
#: Revision labels: what a revision was built from. Cloud Run label values are lowercase
#: letters, digits, '_' and '-', at most 63 characters.
COMMIT_LABEL, COMMIT_TIME_LABEL, MODEL_LABEL = "commit-sha", "commit-time", "model-version"
#: Deploy parameters: set on every target (deploy/clouddeploy.yaml), with these defaults here.
PARAMETERS = {
    "service": "soulsync-model-endpoint",
    "min_instances": "0",
    "max_instances": "1",
}
#: The services' custom audience: what the verify job asks its ID token for, whichever URL it
#: calls (a tag's or the service's). Staging and prod accept the same one; who may call each is
#: still its own roles/run.invoker.
AUDIENCE = "soulsync-model-endpoint"
#: Who may reach the service: Cloud Run's ingress settings.
INGRESS = frozenset({"all", "internal", "internal-and-cloud-load-balancing"})
LABEL_VALUE = re.compile(r"[a-z0-9_-]{1,63}")
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
#: Settings the file itself sets; _SETTINGS may not name them.
FILE_SETTINGS = frozenset(
    {"PORT", "SOULSYNC_GCP_PROJECT", "WEB_CONCURRENCY", "GUNICORN_WORKER_CONNECTIONS"}
    | {"SOULSYNC_CORS_ORIGINS", "SOULSYNC_API_KEYS", "SOULSYNC_METRICS_PORT"}
)
#: The collector's scrape configuration is mounted here (the sidecar reads config.yaml in it).
COLLECTOR_CONFIG_DIR = "/etc/rungmp"
#: The service's environment variable that holds the API keys (its secret is read back by the
#: verify job, deploy/verify.py).
API_KEYS_VARIABLE = "SOULSYNC_API_KEYS"


class ReleaseError(ValueError):
    """A setting that cannot make a release; the message names the substitution."""


@dataclass(frozen=True)
class Param:
    """A deploy parameter in the file: Cloud Deploy puts the target's value in its place."""

    name: str

    @property
    def default(self) -> str:
        return PARAMETERS[self.name]


@dataclass(frozen=True)
class Release:
    """One release's settings: the build's substitutions (without their leading '_'), its
    commit, and what the build ships."""

    project: str
    commit_sha: str
    commit_time: int
    model_version: str
    runtime_account: str
    cpu: str
    memory: str
    concurrency: int
    workers: int
    worker_connections: int
    cors_origins: str
    settings: tuple[tuple[str, str], ...]
    api_keys_secret: str
    api_keys_version: str
    public: bool
    ingress: str
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
            commit_sha=read.label("COMMIT_SHA"),
            commit_time=commit_time,
            model_version=model_version,
            runtime_account=read.text("_RUNTIME_ACCOUNT"),
            cpu=read.text("_CPU"),
            memory=read.text("_MEMORY"),
            concurrency=read.number("_CONCURRENCY"),
            workers=read.number("_WORKERS"),
            worker_connections=read.number("_WORKER_CONNECTIONS"),
            cors_origins=read.text("_CORS_ORIGINS", optional=True),
            settings=read.settings("_SETTINGS"),
            api_keys_secret=read.text("_API_KEYS_SECRET"),
            api_keys_version=read.version("_API_KEYS_VERSION", optional=True),
            public=read.flag("_PUBLIC"),
            ingress=read.choice("_INGRESS", INGRESS),
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
        return release

    @property
    def runtime_email(self) -> str:
        return f"{self.runtime_account}@{self.project}.iam.gserviceaccount.com"

    @property
    def api_keys(self) -> bool:
        return bool(self.api_keys_version)

    @property
    def labels(self) -> dict[str, str]:
        """What the revision, and the release, say they were made from."""
        return {
            COMMIT_LABEL: self.commit_sha,
            COMMIT_TIME_LABEL: str(self.commit_time),
            MODEL_LABEL: self.model_version,
        }


class _Reader:
    """Reads substitutions from the environment; a bad one raises ReleaseError naming it."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, optional: bool = False) -> str:
        value = self.environ.get(name, "").strip()
        if not value and not optional:
            raise ReleaseError(f"{name} is not set")
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
        return self.choice(name, {"true", "false"}) == "true"

    def choice(self, name: str, allowed: frozenset[str] | set[str]) -> str:
        value = self.text(name)
        if value not in allowed:
            raise ReleaseError(f"{name}: {value!r} is not one of {', '.join(sorted(allowed))}")
        return value

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
            if key in FILE_SETTINGS:
                raise ReleaseError(f"{name}: {key} is set by a substitution of its own")
            pairs.append((key, value))
        return tuple(pairs)


def service_document(release: Release) -> dict[str, Any]:
    """The Knative Service document Cloud Deploy deploys to each target."""
    service_annotations: dict[str, Any] = {
        # Service level, so that only revisions with traffic keep instances warm (a revision's
        # own minimum would warm every tagged revision too).
        "run.googleapis.com/minScale": Param("min_instances"),
        # An audience of the service's own, accepted by every revision: the verify job asks
        # for an ID token for it, whatever URL it calls (a tag's, or the service's).
        "run.googleapis.com/custom-audiences": json.dumps([AUDIENCE]),
        "run.googleapis.com/ingress": release.ingress,
    }
    if release.public:
        # Google's recommended public service: no invoker check, no allUsers binding.
        service_annotations["run.googleapis.com/invoker-iam-disabled"] = "true"
    template_annotations: dict[str, Any] = {
        "autoscaling.knative.dev/maxScale": Param("max_instances"),
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
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": Param("service"), "annotations": service_annotations},
        "spec": {
            "template": {
                "metadata": {"labels": release.labels, "annotations": template_annotations},
                "spec": spec,
            },
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
        env.append({"name": API_KEYS_VARIABLE, "valueFrom": {"secretKeyRef": secret}})
    return {
        "name": "service",
        "image": IMAGE,
        "ports": [{"name": "http1", "containerPort": CONTAINER_PORT}],
        "env": env,
        "resources": {"limits": {"cpu": release.cpu, "memory": release.memory}},
        "startupProbe": {
            "httpGet": {"path": STARTUP_PATH, "port": CONTAINER_PORT},
            "periodSeconds": 1,
            "timeoutSeconds": 1,
            # Up to 30 s to load: a slow cold start on a shared CPU costs nothing more.
            "failureThreshold": 30,
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
    so that no value is ever read as a number, a boolean or a date; a deploy parameter is its
    default followed by Cloud Deploy's `# from-param:` comment."""
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
    if isinstance(value, Param):
        return f"{json.dumps(value.default)}  # from-param: ${{{value.name}}}"
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)
