"""Swagger UI in headless Chromium against gunicorn on loopback: the page renders, "Try it out"
runs POST /predict with the example and with a bad body, and no request leaves the service.

Needs Debian's chromium (.ci/run installs it) and Playwright's Python package, which drives that
binary through `executable_path` (no browser download). Skipped, with the reason, without them.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from soulsync.questionnaire import CONTRACT_EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # a container's /dev/shm (Docker's default: 64 MB) is too small
]

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"chromium is not installed at {CHROMIUM}", allow_module_level=True)


@pytest.fixture(scope="module")
def page_and_requests(server) -> Iterator[tuple]:
    base = server.base
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 2000})
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        try:
            yield base, page, requests
        finally:
            browser.close()


def execute(page, operation_id: str, body: dict | None = None) -> tuple[str, str]:
    """Open an operation, Try it out, optionally replace the body, Execute: (status, body)."""
    operation = page.locator(f"#{operation_id}")
    if not operation.locator(".try-out__btn").count():
        operation.locator(".opblock-summary").first.click()
    try_out = operation.locator(".try-out__btn")
    if "cancel" not in (try_out.get_attribute("class") or ""):
        try_out.click()
    clear = operation.locator("button.btn-clear")
    if clear.count():
        clear.click()  # so that the next response shown is this request's
    if body is not None:
        operation.locator("textarea.body-param__text").fill(json.dumps(body))
    operation.locator("button.execute").click()
    response = operation.locator(".live-responses-table tr.response").first
    response.wait_for(timeout=15_000)
    status = response.locator(".response-col_status").inner_text().strip()
    return status, response.locator(".response-col_description pre").first.inner_text()


def test_swagger_ui_runs_the_contract_example(page_and_requests) -> None:
    base, page, _ = page_and_requests
    page.goto(base + "/docs")
    page.locator(".opblock").first.wait_for(timeout=15_000)
    assert page.locator(".opblock").count() >= 8
    assert "SoulSync" in page.locator(".info .title").inner_text()

    status, body = execute(page, "operations-prediction-post_predict")
    assert status == "200"
    reply = json.loads(body)
    assert reply["message"] == "Prediction successful"
    assert reply["result"] in ("Depression", "No Depression")

    status, body = execute(
        page, "operations-prediction-post_predict", {**CONTRACT_EXAMPLE, "Pressure": 9}
    )
    assert status == "422"
    assert "Pressure" in json.loads(body)["errors"]["json"]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "swagger-ui.png"), full_page=True)


def test_docs_make_no_request_to_another_host(page_and_requests) -> None:
    base, page, requests = page_and_requests
    page.goto(base + "/reference")
    page.locator("h1").wait_for()
    assert requests, "the browser recorded no requests"
    foreign = [url for url in requests if not url.startswith(base + "/")]
    assert foreign == []


def test_every_operation_runs_from_the_page(page_and_requests) -> None:
    """A developer with no internet can run every endpoint from /docs: each operation, with
    its documented example, answers 200 in the page."""
    base, page, _ = page_and_requests
    page.goto(base + "/docs")
    page.locator(".opblock").first.wait_for(timeout=15_000)
    operations = page.eval_on_selector_all(".opblock", "blocks => blocks.map(b => b.id)")
    with urllib.request.urlopen(base + "/openapi.json", timeout=10) as response:
        spec = json.loads(response.read())
    assert len(operations) == sum(len(item) for item in spec["paths"].values()), operations
    statuses = {operation: execute(page, operation)[0] for operation in operations}
    assert statuses == dict.fromkeys(operations, "200")
