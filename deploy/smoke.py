#!/usr/bin/env python3
"""Check that a running service answers as this build's shipped model must, before it gets
traffic: that it answers, the model version, the old clients' contract, a committed set of
questionnaires answered exactly as expected, and a bad body refused with 422.

    python3 -m deploy.smoke URL [--expected deploy/smoke-expected.json]
                                 [--id-token-audience AUDIENCE] [--expect-private]

The expected answers are generated from the shipped model by `make smoke-expected`
(generators/smoke_expected.py). Only the standard library: this runs in Cloud Build's cloud-sdk
image and beside the container check.

Authentication, as the service requires it:
- `--id-token-audience`: an ID token for that audience from the metadata server (the identity
  of the Cloud Build step's service account), sent as `Authorization: Bearer ...`;
- the environment variable SOULSYNC_SMOKE_API_KEY, when set: sent as `X-API-Key` (never on
  the command line, so never in a build log);
- `--expect-private`: also check that a call without a token is refused (401 or 403).

Exit status: 0 when every check passes, 1 when one fails (each failure on a line that starts
with FAIL), 2 when the expected answers cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy import cloud

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ROOT / "deploy" / "smoke-expected.json"
API_KEY_VARIABLE = "SOULSYNC_SMOKE_API_KEY"
#: What the smoke test waits on, and reads the served model's version from.
READY_PATH = "/"
#: A path the service answers without an API key (its OpenAPI document).
KEYLESS_PATH = "/openapi.json"
#: What deploy/smoke-expected.json must hold.
REQUIRED = ("model_version", "probability_tolerance", "contract", "cases", "bad_body")
#: Statuses worth waiting through while a new revision starts.
STARTING = {429, 500, 502, 503, 504}


class SmokeError(Exception):
    """A check that failed; the message says what was expected and what came back."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    content_type: str


@dataclass
class Client:
    """Requests to one base URL, with the service's authentication."""

    base: str
    token: str | None = None
    api_key: str | None = None
    timeout: float = 30

    def call(self, path: str, body: Any = None, authenticated: bool = True) -> Reply:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if authenticated and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if authenticated and self.api_key:
            headers["X-API-Key"] = self.api_key
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _reply(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as error:
            return _reply(error.code, error.read(), error.headers)


def _reply(status: int, raw: bytes, headers: Any) -> Reply:
    content_type = headers.get("Content-Type", "") if headers else ""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw[:200].decode("utf-8", "replace")
    return Reply(status, body, content_type)


def id_token(audience: str, timeout: float = 10) -> str:
    """An ID token for `audience` from the metadata server, as Cloud Build documents for a
    user-specified service account ("Authorize service-to-service access")."""
    query = urllib.parse.urlencode({"audience": audience})
    try:
        return cloud.metadata(f"instance/service-accounts/default/identity?{query}", timeout)
    except cloud.CloudError as error:
        raise SmokeError(
            f"no ID token ({error}): the build's service account needs "
            "roles/iam.serviceAccountOpenIdTokenCreator on itself (docs/deployment.md)"
        ) from error


@dataclass
class Smoke:
    """The checks, in order; each records a line."""

    client: Client
    expected: dict[str, Any]
    expect_private: bool = False
    wait: float = 120
    lines: list[str] = field(default_factory=list)
    failures: int = 0

    def run(self) -> bool:
        checks = [("readiness", self.readiness)]
        if self.expect_private:
            checks.append(("private", self.refuses_unauthenticated))
        checks += [
            ("model version", self.model_version),
            ("contract", self.contract),
            ("expected answers", self.expected_answers),
            ("bad body", self.bad_body),
        ]
        for name, check in checks:
            try:
                detail = check()
            except SmokeError as error:
                self.failures += 1
                self.say(f"FAIL {name}: {error}")
                if name == "readiness":
                    break  # nothing else can pass
            except (urllib.error.URLError, OSError) as error:
                self.failures += 1
                self.say(f"FAIL {name}: no answer from {self.client.base} ({error})")
                break
            else:
                self.say(f"ok   {name}: {detail}")
        verdict = "PASS" if not self.failures else f"FAIL ({self.failures} failed)"
        self.say(f"smoke {self.client.base}: {verdict}")
        return not self.failures

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)

    def readiness(self) -> str:
        """Until GET / answers: a worker that answers has its model loaded, and Cloud Run sends
        requests to an instance only once its startup probe (/readyz) passed. Not /readyz
        itself: Google's front end reserves some paths ending in z on *.run.app."""
        deadline = time.monotonic() + self.wait
        while True:
            try:
                reply = self.client.call(READY_PATH)
            except (urllib.error.URLError, OSError) as error:
                if time.monotonic() > deadline:
                    raise SmokeError(
                        f"GET {READY_PATH} did not answer in {self.wait:.0f} s ({error})"
                    ) from error
            else:
                if reply.status == 200:
                    break
                if reply.status not in STARTING or time.monotonic() > deadline:
                    raise SmokeError(
                        f"GET {READY_PATH} answered {reply.status}: {_short(reply.body)}"
                    )
            time.sleep(1)
        body = _json_object(reply, READY_PATH)
        return f"answers, model {body.get('model_version')}"

    def refuses_unauthenticated(self) -> str:
        """A path the service itself serves without a key, asked with neither token nor key:
        only Cloud Run's invoker check can refuse it."""
        reply = self.client.call(KEYLESS_PATH, authenticated=False)
        if reply.status not in (401, 403):
            raise SmokeError(
                f"a call without a token got {reply.status}, not 401/403: the revision is "
                "public (docs/deployment.md, 'Public or private')"
            )
        return f"a call without a token gets {reply.status}"

    def model_version(self) -> str:
        version = self.expected["model_version"]
        ready = _json_object(self.client.call(READY_PATH), READY_PATH)
        card = self.client.call("/model")
        if card.status != 200:
            raise SmokeError(f"GET /model answered {card.status}: {_short(card.body)}")
        served = {ready.get("model_version"), _json_object(card, "/model").get("version")}
        if served != {version}:
            raise SmokeError(f"serves model {sorted(map(str, served))}, this build ships {version}")
        return version

    def contract(self) -> str:
        contract = self.expected["contract"]
        reply = self.client.call("/predict", contract["request"])
        if reply.status != 200 or not reply.content_type.startswith("application/json"):
            raise SmokeError(
                f"POST /predict answered {reply.status} ({reply.content_type or 'no type'}): "
                f"{_short(reply.body)}"
            )
        body = _json_object(reply, "/predict")
        old_fields = {key: body.get(key) for key in contract["reply"]}
        if old_fields != contract["reply"]:
            raise SmokeError(f"the old clients' fields are {old_fields}, not {contract['reply']}")
        return ", ".join(f"{key} {value!r}" for key, value in old_fields.items())

    def expected_answers(self) -> str:
        tolerance = self.expected["probability_tolerance"]
        wrong = []
        for case in self.expected["cases"]:
            reply = self.client.call("/predict", case["answers"])
            body = reply.body if isinstance(reply.body, dict) else {}
            got = {key: body.get(key) for key in ("result", "risk_level", "probability")}
            probability = got["probability"]
            if (
                reply.status != 200
                or got["result"] != case["result"]
                or got["risk_level"] != case["risk_level"]
                or not isinstance(probability, (int, float))
                or abs(probability - case["probability"]) > tolerance
            ):
                want = {key: case[key] for key in ("result", "risk_level", "probability")}
                wrong.append(f"{case['why']}: expected {want}, got {reply.status} {got}")
        if wrong:
            raise SmokeError(
                f"{len(wrong)} of {len(self.expected['cases'])} questionnaires answered "
                f"otherwise than this build's model (probability within {tolerance}): "
                + "; ".join(wrong)
            )
        return f"{len(self.expected['cases'])} questionnaires as expected"

    def bad_body(self) -> str:
        bad = self.expected["bad_body"]
        reply = self.client.call("/predict", bad["request"])
        named = isinstance(reply.body, dict) and bad["field"] in json.dumps(reply.body)
        if reply.status != bad["status"] or not named:
            raise SmokeError(
                f"a body with a bad {bad['field']} got {reply.status}, expected "
                f"{bad['status']} naming {bad['field']}: {_short(reply.body)}"
            )
        return f"{reply.status} naming {bad['field']}"


def _json_object(reply: Reply, path: str) -> dict[str, Any]:
    if not isinstance(reply.body, dict):
        raise SmokeError(f"{path} answered {reply.status} without a JSON object: {reply.body!r}")
    return reply.body


def _short(body: Any, limit: int = 300) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    return text if len(text) <= limit else text[:limit] + "..."


def load_expected(path: Path) -> dict[str, Any]:
    """The expected answers; ValueError naming the file and what is wrong."""
    try:
        expected = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the expected answers in {path}: {error}") from error
    missing = [key for key in REQUIRED if not isinstance(expected, dict) or key not in expected]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: run `make smoke-expected`")
    return expected


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("url", help="the service's base URL, e.g. a revision tag's URL")
    parse.add_argument("--expected", type=Path, default=EXPECTED, help="default: %(default)s")
    parse.add_argument(
        "--id-token-audience",
        help="get an ID token for this audience (the service's URL) from the metadata server",
    )
    parse.add_argument(
        "--expect-private", action="store_true", help="check that a call without a token fails"
    )
    parse.add_argument(
        "--wait", type=float, default=120, help="seconds to wait for readiness (%(default)s)"
    )
    return parse


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        expected = load_expected(args.expected)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    client = Client(args.url.rstrip("/"), api_key=os.environ.get(API_KEY_VARIABLE) or None)
    print(f"smoke {client.base}: this build's model {expected['model_version']}", flush=True)
    if args.id_token_audience:
        try:
            client.token = id_token(args.id_token_audience)
        except SmokeError as error:
            print(f"FAIL authentication: {error}", flush=True)
            return 1
    smoke = Smoke(client, expected, expect_private=args.expect_private, wait=args.wait)
    return 0 if smoke.run() else 1


if __name__ == "__main__":
    sys.exit(main())
