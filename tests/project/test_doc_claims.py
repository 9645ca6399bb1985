"""What README.md, CHANGELOG.md and docs/ claim, held to the code.

- Every shell command in them runs in a test against a real server, or is listed in
  NOT_RUN_HERE with the reason (`gcloud` needs a project...): a new command fails here until it
  is one or the other.
- Every list that exists in code is checked against it: the README's endpoints against the
  app's routes, the keyless paths against soulsync/config.py, the error statuses against the
  OpenAPI document, the metrics named against what /metrics exposes, the integration guide's
  tables against the reply schemas, and the figures quoted from the model card against the card.
- Every measured figure names the command that measured it: a paragraph, table or block that
  reads as a measurement (MEASURED) must name a command (a make target or a file of the
  repository, in backticks) in itself, the paragraph before it, or its section's heading.

A claim known to be stale is an xfail that names it exactly (strict, so that the mark goes once
the page is fixed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.__main__ import BENCHES
from soulsync.api import openapi_document
from soulsync.config import OPEN_PATHS, OPERATOR_PATHS
from soulsync.questionnaire import CONTRACT_EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND_WORDS = {
    "curl", "make", "gcloud", "python3", "python", "soulsync", "docker", "npm", "npx", "node",
    "cd", "openssl", "for", "done", "gunicorn", "git", "pip", "bash", ".venv/bin/python",
    ".venv/bin/pytest", ".venv/bin/gunicorn",
}  # fmt: skip
ASSIGNMENT = re.compile(r"[A-Z_][A-Z0-9_]*=(\S*)")

#: Commands that the suite does not run as written, by how they start, with the reason; the
#: tests that do run them (or what they stand for) are named.
NOT_RUN_HERE = {
    "gcloud ": "needs a Google Cloud project, which this project's machines do not reach",
    "openssl rand": "pipes a new key into `gcloud secrets create` (a project)",
    "for ": "a loop of gcloud commands (a project)",
    "done": "the end of a loop of gcloud commands",
    "make release": "needs gcloud and a project (its last step: tests/deploy/test_release.py runs "
    "it against a gcloud stand-in)",
    "make pipeline": "needs gcloud and a project (tests/deploy/test_deploy_config.py checks the "
    "file it applies)",
    "make status": "needs gcloud and a project",
    "make trigger": "needs gcloud and a project",
    "make rollback": "needs gcloud and a project (tests/deploy/test_release.py runs it against "
    "a gcloud stand-in)",
    "make promote": "needs gcloud and a project",
    "make apply-alerts": "needs gcloud and a project (tests/deploy/test_alert_files.py runs it "
    "against stand-ins)",
    "make test": "CI's own command: .ci/run runs it",
    "make quick": "a part of make test",
    "make train": "reads the survey data (DATA), which is not in the repository; .ci/run runs "
    "make check-model where it lies beside the checkout",
    "make check-model": ".ci/run runs it where the survey data lies beside the checkout",
    "make bench": "a benchmark of minutes that prints numbers (docs/performance.md), not a test",
    ".venv/bin/python -m bench": "a benchmark that prints numbers, not a test",
    ".venv/bin/python bench/": "a benchmark that prints numbers, not a test",
    "make container-test": "needs a container engine; .ci/run runs it where one runs",
    "docker ": "needs a Docker engine (make container-test builds and runs the same image)",
    "make lock": "rewrites the locks from PyPI (tests/project/test_generated.py and "
    "tests/project/test_lock.py check them)",
    "python3 -m deploy.smoke": "tests/e2e/test_smoke.py runs it against gunicorn",
    "soulsync monitor": "tests/monitor/test_monitor.py runs it on exports it writes, and "
    "tests/e2e/test_node_example.py on the Node example's records",
    "soulsync recalibrate": "tests/recalibration/test_recalibrate.py runs it on exports it writes",
    ".venv/bin/python -m tests.support.shifted": "reads the survey data and takes minutes; its "
    "figures are quoted in docs/model.md with this command",
    "cd examples/node": "tests/e2e/test_node_example.py runs the example's npm ci and node",
    "npm ci": "tests/e2e/test_node_example.py",
    "node example.js": "tests/e2e/test_node_example.py",
    "git checkout": "an operator's step after a rollback",
    "cut -d, -f1)": "the first API key of a `gcloud secrets versions access` reply (a project)",
    'curl -s -H "Authorization: Bearer $TOKEN" -H "X-API-Key: $KEY" $URL': "needs the deployed "
    "service's URL and an identity token (gcloud)",
}
#: Run by tests/e2e/test_readme.py: the README's and docs' curl examples with a `# -> STATUS`,
#: the `$ ` sessions, and make serve.
RUN_BY_TEST_README = ("curl ", "$ ", "make serve")


def code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of each indented code line, continuation lines joined."""
    lines = text.split("\n")
    found, in_code, previous_blank, i = [], False, True, 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            previous_blank, in_code, i = True, False, i + 1
            continue
        if len(line) - len(line.lstrip(" ")) >= 4 and (previous_blank or in_code):
            joined, end = line.strip(), i
            while joined.endswith("\\") and end + 1 < len(lines):
                end += 1
                joined = joined[:-1].rstrip() + " " + lines[end].strip()
            found.append((i + 1, joined))
            in_code, previous_blank, i = True, False, end + 1
            continue
        in_code = previous_blank = False
        i += 1
    return found


def commands(text: str) -> list[tuple[int, str]]:
    """The shell commands among the code lines (a line whose first word, after `$ ` and
    variable assignments, is a command; `A=$(cmd ...)` counts as cmd)."""
    found = []
    for number, line in code_lines(text):
        words = (line[2:] if line.startswith("$ ") else line).split()
        while words and ASSIGNMENT.fullmatch(words[0]):
            value = ASSIGNMENT.fullmatch(words[0])[1]
            if value.startswith("$("):
                words = [value[2:], *words[1:]]
                break
            words = words[1:]
        if words and words[0] in COMMAND_WORDS:
            found.append((number, line))
    return found


def classify(line: str) -> str | None:
    """Why the command is fine as it stands: run by a test, or not run here for a reason."""
    if line.startswith("$ "):
        return "run by tests/e2e/test_readme.py (a session: each line it prints is checked)"
    parts = [part.strip() for part in re.split(r"&&|\|", line.split(" # ")[0])]
    reasons = []
    for part in parts:
        words = part.split()
        while words and ASSIGNMENT.fullmatch(words[0]) and not words[0].count("$("):
            words = words[1:]
        part = " ".join(words)
        if part.startswith(("tr ",)):
            continue
        if part.startswith("curl "):
            reasons.append("run by tests/e2e/test_readme.py (curl with its `# -> STATUS`)")
            continue
        if part.startswith("make serve"):
            reasons.append("run by tests/e2e/test_readme.py::test_make_serve")
            continue
        if "$(gcloud" in part:
            reasons.append(NOT_RUN_HERE["gcloud "])
            continue
        reason = next((why for start, why in NOT_RUN_HERE.items() if part.startswith(start)), None)
        if reason is None:
            return None
        reasons.append(reason)
    return "; ".join(reasons)


def curl_examples_with_status() -> set[str]:
    from tests.e2e.test_readme import EXAMPLES

    return {command for command, _ in EXAMPLES}


@pytest.mark.parametrize("document", DOCS, ids=lambda p: p.name)
def test_every_command_runs_in_a_test_or_says_why_not(document: Path) -> None:
    tested_curls = {" ".join(c.split()) for c in curl_examples_with_status()}
    unexplained = []
    for number, line in commands(document.read_text(encoding="utf-8")):
        if line.startswith("curl "):
            tested = " ".join(line.split()) in tested_curls
            if not tested and not line.startswith(tuple(NOT_RUN_HERE)):
                unexplained.append(f"{document.name}:{number}: a curl without `# -> STATUS`")
            continue
        if classify(line) is None:
            unexplained.append(f"{document.name}:{number}: {line}")
    assert not unexplained, "run these in a test, or add them to NOT_RUN_HERE with the reason"


# --- lists that exist in code -------------------------------------------------------------------


def documented_routes(text: str) -> set[tuple[str, str]]:
    table = text.split("## The API at a glance", 1)[1].split("\n\n", 2)[1]
    found = set()
    for row in table.splitlines()[2:]:
        first = row.split("|")[1]
        found |= set(re.findall(r"`(GET|POST|PUT|DELETE) (/[^`]*)`", first))
    return found


def test_readme_endpoints_table_is_the_apps_routes(app) -> None:
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if "<" not in rule.rule  # the static files and the docs' assets
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented_routes((ROOT / "README.md").read_text(encoding="utf-8")) == routes


def test_readme_batch_limit_is_the_settings(app) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    limits = re.findall(r"up to ([\d,]+) questionnaires", text)
    assert limits == [f"{app.config['BATCH_LIMIT']:,}"]


def units(text: str) -> list[str]:
    """Each table row, and each sentence of the rest."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    prose = "\n".join(line for line in text.splitlines() if not line.startswith("|"))
    prose = re.sub(r"\s+", " ", prose)
    return rows + re.split(r"(?<=[.;])\s+(?=[A-Z`(])", prose)


KEYLESS = re.compile(
    r"\bkey.*\b(except|never need|no key|without a key)|"
    r"\b(except|never need|no key|without a key)\b.*\bkey",
    re.I,
)


def keyless_claims(text: str) -> list[set[str]]:
    """The sets of paths that sentences about API keys list as needing none."""
    claims = []
    for sentence in units(text):
        if not KEYLESS.search(sentence):
            continue
        paths = set(re.findall(r"(?<![\w.])(/[a-z][a-z./]*)", sentence))
        if len(paths & set(OPEN_PATHS)) >= 2:
            claims.append(paths)
    return claims


KEYLESS_STALE: dict[str, str] = {}


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=KEYLESS_STALE[p.name]))
        if p.name in KEYLESS_STALE
        else p
        for p in DOCS
    ],
    ids=lambda p: p.name,
)
def test_keyless_paths_are_the_codes(document: Path) -> None:
    """Wherever a page lists the paths that need no key, it lists soulsync/config.py's."""
    for claim in keyless_claims(document.read_text(encoding="utf-8")):
        assert claim - set(OPERATOR_PATHS) == set(OPEN_PATHS), claim


def openapi_error_statuses(app) -> set[int]:
    document = openapi_document(app)
    return {
        int(status)
        for operations in document["paths"].values()
        for operation in operations.values()
        for status in operation.get("responses", {})
        if status.isdigit() and int(status) >= 400
    }


def test_api_page_lists_every_documented_error(app) -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    listed = {int(code) for code in re.findall(r"\b(4\d\d)\b", text.split("## Examples")[0])}
    assert openapi_error_statuses(app) <= listed
    assert '`{"code", "status", "message", "errors"}`' not in text


def test_integration_status_table_covers_every_documented_error(app) -> None:
    text = (ROOT / "docs" / "integration.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d{3}) \| ([^|]+) \|[^|]+\| (yes|no) \|$", text, re.M)
    service = {int(code) for code, who, _ in rows if "the service" in who}
    assert openapi_error_statuses(app) <= service
    retried = {int(code) for code, _, retry in rows if retry == "yes"}
    client = (ROOT / "examples" / "node" / "soulsync-client.js").read_text(encoding="utf-8")
    in_client = re.search(r"RETRY_STATUSES = new Set\(\[([\d, ]+)\]\)", client)[1]
    assert retried == {int(code) for code in in_client.split(",")}


def test_only_a_422_carries_errors(client) -> None:
    """The error shape the guide states: code, status, message; `errors` with a 422 only."""
    not_found = client.get("/nope").json
    assert set(not_found) == {"code", "status", "message"}
    invalid = client.post("/predict", json={**CONTRACT_EXAMPLE, "Pressure": 9}).json
    assert set(invalid) == {"code", "status", "message", "errors"}
    text = (ROOT / "docs" / "integration.md").read_text(encoding="utf-8")
    assert "`code`, `status` and `message`; a 422 adds `errors`" in text


def table_keys(text: str, after: str) -> set[str]:
    """The backticked names in the first column of the first table after `after`."""
    table = text.split(after, 1)[1].split("\n| field |", 1)[1].split("\n\n", 1)[0]
    return {
        name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split("|")[1])
    }


def test_integration_tables_are_the_reply_schemas(app) -> None:
    schemas = openapi_document(app)["components"]["schemas"]
    text = (ROOT / "docs" / "integration.md").read_text(encoding="utf-8")
    assert table_keys(text, "## What a reply holds") == set(schemas["Prediction"]["properties"])
    assert table_keys(text, "### Factors") == set(schemas["Factor"]["properties"])
    block = text.split("### The support block", 1)[1].split("\n\n", 2)[1]
    assert set(re.findall(r'^ {6}"(\w+)":', block, re.M)) == set(schemas["Support"]["properties"])


def test_figures_quoted_from_the_model_card(screener) -> None:
    """The thresholds and reference shares the guide and the runbook quote are the shipped
    card's (GET /model)."""
    card = screener.card
    integration = (ROOT / "docs" / "integration.md").read_text(encoding="utf-8")
    thresholds = {g: d.threshold for g, d in card.model_card.decision.groups.items()}
    quoted = re.search(
        r"thresholds are ([\d.]+) for students and ([\d.]+) for working", integration
    )
    assert float(quoted[1]) == round(thresholds["students"], 2)
    assert float(quoted[2]) == round(thresholds["professionals"], 3)
    # "a professional at 0.07 is Depression; a student at 0.40 is not"
    assert thresholds["professionals"] <= 0.07 and thresholds["students"] > 0.40
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    shares = re.search(r"([\d.]+) of students and ([\d.]+) of professionals", runbook)
    flagged = {g: reference.flagged for g, reference in card.drift_reference.groups.items()}
    assert float(shares[1]) == round(flagged["students"], 2)
    assert float(shares[2]) == round(flagged["professionals"], 2)
    out_of_fold = re.search(r"docs/model.md's (\d+) % and (\d+) %", runbook)
    groups = card.model_card.decision.groups
    assert int(out_of_fold[1]) == round(100 * groups["students"].at_threshold.flagged)
    assert int(out_of_fold[2]) == round(100 * groups["professionals"].at_threshold.flagged)


METRICS_STALE: dict[str, str] = {}
#: Only gunicorn's gevent worker has an event loop to measure (tests/e2e check them).
EVENT_LOOP_METRICS = {
    "soulsync_event_loop_lag_seconds",
    "soulsync_accept_queue",
    "soulsync_connections",
}


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=METRICS_STALE[p.name]))
        if p.name in METRICS_STALE
        else p
        for p in DOCS
        if p.name != "CHANGELOG.md"  # which names the metrics it replaced
    ],
    ids=lambda p: p.name,
)
def test_metrics_named_are_exposed(document: Path, client) -> None:
    batch = [{**CONTRACT_EXAMPLE, "WorkOrStudent": g} for g in (0, 1) for _ in range(100)]
    assert client.post("/predict/batch", json={"questionnaires": batch}).status_code == 200
    exposed = set(
        re.findall(r"^# TYPE (\w+) ", client.get("/metrics").get_data(as_text=True), re.M)
    )
    exposed |= {f"{name}_total" for name in exposed} | EVENT_LOOP_METRICS
    named = set(re.findall(r"\b(soulsync_[a-z_]+)", document.read_text(encoding="utf-8")))
    assert named <= exposed, sorted(named - exposed)


# --- every measured figure names its command ---------------------------------------------------

#: What reads as a measurement: a figure with a unit of time, size or rate, or a word that says
#: something was measured.
MEASURED = re.compile(
    r"\d\s?(ms|µs|us|s|MB|MiB|GB|req/s|rps)\b|\bmeasured\b|\bp(50|99)\b|this project's 2-core",
    re.I,
)
#: A command in backticks: a make target, a file of the repository, a bench, or the soulsync
#: command.
COMMAND = re.compile(
    r"`(make\s+[a-z-]+|[\w./-]+\.(?:py|sh)|\.venv/bin/\w+ [^`]+|python -m bench [a-z-]+"
    r"|soulsync \w[^`]*)"
)


def blocks(text: str) -> list[tuple[int, str, str]]:
    """(line number, block, its section's heading) for each paragraph, table or code block."""
    found, heading, number = [], "", 1
    for block in re.split(r"\n\s*\n", text):
        stripped = block.strip()
        if stripped.startswith("#"):
            heading = stripped.splitlines()[0]
        found.append((number, block, heading))
        number += block.count("\n") + 2
    return found


def exists(command: str) -> bool:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    if command.startswith("make"):
        return re.search(rf"^{re.escape(command.split()[1])}:", makefile, re.M) is not None
    if command.startswith("soulsync "):
        return True
    if bench := re.search(r"python -m bench ([a-z-]+)", command):
        return bench[1] in BENCHES
    path = command.split()[-1] if command.startswith(".venv") else command
    return (ROOT / path.split()[0]).exists()


#: Settings and rules are figures too, but nobody measured them: a block that quotes only these
#: is not a measurement.
NOT_MEASUREMENTS = re.compile(
    r"\b(graceful timeout|keepalive|deadline|timeoutSeconds|soak|not measured|interval:|"
    r"SOULSYNC_[A-Z_]+|GUNICORN_[A-Z_]+|_[A-Z][A-Z_]+|backoffMs|timeoutMs)",
)


def unmeasured(document: Path) -> list[str]:
    text = document.read_text(encoding="utf-8")
    found = blocks(text)
    missing = []
    for index, (number, block, heading) in enumerate(found):
        if block.lstrip().startswith("#") or not MEASURED.search(block):
            continue
        context = block + (found[index - 1][1] if index else "") + heading
        named = [c for c in COMMAND.findall(context) if exists(c)]
        if not named and not NOT_MEASUREMENTS.search(block):
            first = block.strip().splitlines()[0][:80]
            missing.append(f"{document.name}:{number}: {first}")
    return missing


MEASUREMENTS_STALE: dict[str, str] = {}


@pytest.mark.parametrize("document", DOCS, ids=lambda p: p.name)
def test_every_measured_figure_names_its_command(document: Path) -> None:
    missing = unmeasured(document)
    if missing and document.name in MEASUREMENTS_STALE:
        pytest.xfail(f"{MEASUREMENTS_STALE[document.name]}: {missing}")
    assert not missing, "name the command that measured each of these beside it"


def test_the_changelogs_policy_and_the_guides_agree() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    integration = (ROOT / "docs" / "integration.md").read_text(encoding="utf-8")
    assert "**A client must ignore reply fields it does not know**" in changelog
    assert "ignore the ones you do not know" in integration
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
    assert f"## {version}" in changelog or "## Unreleased" in changelog
    assert json.loads((ROOT / "openapi" / "openapi.json").read_text())["info"]["version"] == version


def test_the_keyless_guard_reads_the_pages() -> None:
    """The guide states the rule, and the guard above finds it there (it is not vacuous)."""
    text = (ROOT / "docs" / "integration.md").read_text(encoding="utf-8")
    assert keyless_claims(text) == [{*OPEN_PATHS, "/metrics"}]
