"""Google Cloud's REST APIs from the standard library, as the job's own service account: an
access token from the metadata server (what Cloud Build and Cloud Deploy's jobs provide to a
user-specified account), then JSON over HTTPS.

The hosts are parameters so that the tests can stand in for Google (tests/e2e/test_verify.py):
GCE_METADATA_HOST names another metadata server, as Google's client libraries allow, and
SOULSYNC_GOOGLE_APIS another root for every API below.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

METADATA_HOST = os.environ.get("GCE_METADATA_HOST", "metadata.google.internal")
#: Each API's root, by Google's name for it; SOULSYNC_GOOGLE_APIS=http://host:port puts every
#: one of them under that root (path /<name>/...).
APIS = {
    "run": "https://{region}-run.googleapis.com",
    "logging": "https://logging.googleapis.com",
    "secretmanager": "https://secretmanager.googleapis.com",
}


class CloudError(Exception):
    """A call that failed; the message names the call and Google's answer."""


def metadata(path: str, timeout: float = 10) -> str:
    """A value of the metadata server (computeMetadata/v1/...)."""
    request = urllib.request.Request(
        f"http://{METADATA_HOST}/computeMetadata/v1/{path}", headers={"Metadata-Flavor": "Google"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode().strip()
    except (urllib.error.URLError, OSError) as error:
        raise CloudError(
            f"the metadata server at {METADATA_HOST} gave no {path}: {error}"
        ) from error


@dataclass
class Google:
    """Calls to Google's APIs as the metadata server's account."""

    roots: dict[str, str] = field(default_factory=dict)
    _token: str | None = None

    @classmethod
    def from_environment(cls) -> Google:
        stand_in = os.environ.get("SOULSYNC_GOOGLE_APIS")
        return cls({name: f"{stand_in}/{name}" for name in APIS} if stand_in else dict(APIS))

    @property
    def token(self) -> str:
        if self._token is None:
            answer = json.loads(metadata("instance/service-accounts/default/token"))
            self._token = answer["access_token"]
        return self._token

    def call(
        self, api: str, path: str, body: dict[str, Any] | None = None, **where: str
    ) -> dict[str, Any]:
        """GET (or POST with `body`) API's `path`; the JSON answer."""
        url = self.roots[api].format(**where) + path
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url,
            data=data,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            answer = error.read().decode(errors="replace")[:500]
            raise CloudError(f"{'POST' if data else 'GET'} {url}: {error.code} {answer}") from None
        except (urllib.error.URLError, OSError) as error:
            raise CloudError(f"{url}: {error}") from error


def quote(name: str) -> str:
    """A resource name as one path segment."""
    return urllib.parse.quote(name, safe="")
