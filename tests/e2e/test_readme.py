"""Every curl example of the README and docs/ runs against gunicorn and gives the status its
`# -> STATUS` line promises; every `$ ` session in docs/ runs and prints each line it shows; the
README's `make serve` serves. (tests/project/test_doc_claims.py holds every other command to a
test or a stated reason.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import Server, free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_BASE = "http://localhost:8080"


def documented_examples() -> list[tuple[str, int]]:
    """(command, expected status) for each curl example in the README and docs/."""
    examples = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        found = re.findall(r"\n    (curl .+?)\n    # -> (\d{3})", text, re.S)
        examples += [(re.sub(r"\\\n\s*", " ", command), int(code)) for command, code in found]
    return examples


EXAMPLES = documented_examples()


def shown_replies() -> dict[str, str]:
    """For each curl example whose `# -> STATUS, {...}` line shows a reply: the object shown."""
    shown = {}
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        pattern = r"\n    (curl [^\n]*(?:\n {6,}[^\n]*)*)\n    # -> \d{3}, (\{[^\n]*\})"
        for command, reply in re.findall(pattern, text):
            shown[re.sub(r"\\\n\s*", " ", command)] = reply
    return shown


SHOWN = shown_replies()
#: Replies shown in pages known to leave out fields, by page.
SHOWN_STALE: dict[str, str] = {}


def check_shown(shown: str, reply: dict) -> None:
    """The keys a shown reply names are the reply's (all of them, unless it ends in `...}`),
    and each value it shows literally is the reply's."""
    pairs = re.findall(r'"(\w+)": ("[^"]*"|-?[\d.]+|\.\.\.|\[\.\.\.\])', shown)
    keys = {key for key, _ in pairs}
    if shown.rstrip("}").rstrip().endswith("..."):
        assert keys <= set(reply), sorted(keys - set(reply))
    else:
        assert keys == set(reply), f"shown {sorted(keys)}, the reply has {sorted(reply)}"
    for key, value in pairs:
        if value not in ("...", "[...]"):
            assert reply[key] == json.loads(value), key


def test_docs_have_examples_for_every_endpoint() -> None:
    commands = " ".join(command for command, _ in EXAMPLES)
    for path in (
        "/predict",
        "/prediction/",
        "/predict/batch",
        "/questionnaire",
        "/model",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ):
        assert f"{README_BASE}{path}" in commands, path


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(("command", "status"), EXAMPLES, ids=[c[:60] for c, _ in EXAMPLES])
def test_documented_example_runs(server, command: str, status: int) -> None:
    result = subprocess.run(
        ["bash", "-c", command.replace(README_BASE, server.base) + " -w '\\n%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    body, _, code = result.stdout.rpartition("\n")
    assert int(code) == status, result.stdout
    reply = json.loads(body)  # every reply is JSON
    if command in SHOWN:
        stale = next((why for path, why in SHOWN_STALE.items() if f"{path}'" in command
                      or command.endswith(path) or f"{path} " in command), None)  # fmt: skip
        try:
            check_shown(SHOWN[command], reply)
        except AssertionError:
            if stale:
                pytest.xfail(stale)
            raise
        assert stale is None, f"fixed: remove the SHOWN_STALE entry ({stale})"


def documented_sessions() -> list[tuple[str, str, list[str]]]:
    """(where, command, the lines it prints) for each `$ command` block of docs/: the lines
    after the command, up to a blank line."""
    sessions = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for match in re.finditer(r"\n    \$ (.+)\n((?:    [^\n]+\n)*)", text):
            shown = [line[4:] for line in match[2].splitlines()]
            sessions.append((f"{document.name}: {match[1][:50]}", match[1], shown))
    return sessions


SESSIONS = documented_sessions()


def test_docs_show_failed_starts() -> None:
    assert any("gunicorn" in command for _, command, _ in SESSIONS)


@pytest.mark.parametrize(("where", "command", "shown"), SESSIONS, ids=[s[0] for s in SESSIONS])
def test_documented_session_prints_what_it_shows(where: str, command: str, shown: list[str]):
    """The command runs here (gunicorn from this environment, on a free port), and prints each
    line shown, in order."""
    words = command.split()
    env = {**os.environ, "PORT": str(free_port())}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    if words[0] == "gunicorn":
        words[0] = str(Path(sys.executable).parent / "gunicorn")
    result = subprocess.run(
        words, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=120,
    )  # fmt: skip
    printed = result.stdout
    position = 0
    for line in shown:
        found = printed.find(line, position)
        assert found >= 0, f"{line!r} not printed (in order) by {command}:\n{printed}"
        position = found + len(line)
    assert result.returncode != 0  # each shown session is a start that stops


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_serve() -> None:
    """The README's first command serves the service on localhost."""
    port = free_port()
    log = ROOT / "test-artifacts" / "make-serve.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as output:
        process = subprocess.Popen(
            ["make", "serve", f"PORT={port}"],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: make and the gunicorn it starts
        )
    server = Server(port, process, log)
    try:
        wait_ready(server)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
