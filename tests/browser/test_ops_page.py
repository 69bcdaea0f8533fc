"""The operations page in a real headless Chromium: load, filter, re-queue (one, and in bulk), see the job move."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import select

from shared.db.models import AuditEvent, Job, utcnow
from tests.browser.conftest import OpsServer
from tests.unit.gateway.test_ops_page import queue_length, seed_job

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
WAIT = 10  # seconds for the browser to show something


def listed(browser: WebDriver) -> dict[str, str]:
    """The rows of the job list: job id -> state."""
    rows = browser.find_elements(By.CSS_SELECTOR, "#job-list tbody tr")
    return {row.get_attribute("data-job") or "": row.get_attribute("data-state") or "" for row in rows}


def shown(browser: WebDriver, css: str) -> str:
    return (
        WebDriverWait(browser, WAIT)
        .until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css)))
        .text
    )


def db_job(server: OpsServer, job_id: str) -> tuple[str, str | None, str | None]:
    with server.session_factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.state, job.stage, job.error_code


def audits(server: OpsServer, target: str) -> list[tuple[str, str, int]]:
    with server.session_factory() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.target == target))
        return [(e.actor, e.action, e.count) for e in rows]


def test_an_operator_filters_requeues_one_job_and_sees_it_move(
    ops_server: OpsServer, browser: WebDriver, tmp_path: Path
) -> None:
    factory = ops_server.session_factory
    target = seed_job(factory, state="failed", stage="ocr", error_code="attempts_exhausted", attempts=5)
    other = seed_job(factory, state="failed", stage="detect", error_code="unreadable_document")
    finished = utcnow() - timedelta(minutes=20)
    for detect_ms in (120, 180, 240):
        seed_job(factory, state="done", stage=None, timings={"detect": {"total_ms": detect_ms}}, updated_at=finished)

    browser.get(ops_server.url("/ops"))
    assert browser.title == "Operations · rxlab"
    assert listed(browser) == {target: "failed", other: "failed"}
    assert shown(browser, '[data-queue="ocr"]') == "0"
    assert shown(browser, "#failure-rate-1h") == "40.0%"  # 2 of the 5 jobs that finished in the last hour
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-failures rect.bar")  # the chart was drawn

    # Filter by error code: only the target is left.
    error_field = browser.find_element(By.NAME, "error")
    error_field.clear()
    error_field.send_keys("attempts_exhausted")
    browser.find_element(By.ID, "apply-filter").click()
    WebDriverWait(browser, WAIT).until(lambda b: "error=attempts_exhausted" in b.current_url)
    assert listed(browser) == {target: "failed"}
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-job="{target}"]')
    assert row.find_element(By.CSS_SELECTOR, "td.code").text == "attempts_exhausted"

    # Re-queue it, signed with the operator's name, after saying no once.
    browser.find_element(By.ID, "operator").send_keys("anna")
    row.find_element(By.CSS_SELECTOR, "button.requeue").click()
    WebDriverWait(browser, WAIT).until(expected_conditions.alert_is_present()).dismiss()
    assert db_job(ops_server, target) == ("failed", "ocr", "attempts_exhausted")
    row.find_element(By.CSS_SELECTOR, "button.requeue").click()
    question = WebDriverWait(browser, WAIT).until(expected_conditions.alert_is_present())
    assert question.text == f"Re-queue job {target[:8]} at ocr?"
    question.accept()

    assert shown(browser, ".flash.ok") == f"Job {target} re-queued at ocr."
    assert "error=attempts_exhausted" in browser.current_url  # back on the same filter
    assert listed(browser) == {}  # it is no longer failed
    assert shown(browser, '[data-queue="ocr"]') == "1"
    assert shown(browser, '[data-state-total="queued"]') == "1"
    assert db_job(ops_server, target) == ("queued", "ocr", None)
    assert audits(ops_server, target) == [("ops:anna", "requeue", 1)]
    assert queue_length(ops_server.broker_url, "ocr") == 1

    # Re-queued jobs forget their error: the queued list (any error code) shows it, at the stage it failed at.
    Select(browser.find_element(By.NAME, "state")).select_by_value("queued")
    browser.find_element(By.NAME, "error").clear()
    browser.find_element(By.ID, "apply-filter").click()
    WebDriverWait(browser, WAIT).until(lambda b: "state=queued" in b.current_url)
    assert listed(browser) == {target: "queued"}
    assert browser.find_element(By.CSS_SELECTOR, f'tr[data-job="{target}"] td.stage').text == "ocr"
    browser.save_screenshot(str(tmp_path / "ops-after-requeue.png"))


def test_an_operator_requeues_in_bulk_after_confirming_the_count(ops_server: OpsServer, browser: WebDriver) -> None:
    factory = ops_server.session_factory
    matching = [seed_job(factory, state="failed", stage="tag", error_code="permanent_failure") for _ in range(3)]
    kept = seed_job(factory, state="running", stage="tag")

    browser.get(ops_server.url("/ops?state=any&error=permanent_failure"))
    assert set(listed(browser)) == set(matching)
    browser.find_element(By.ID, "bulk-requeue").click()
    assert shown(browser, "#requeue-count") == "3"
    assert all(db_job(ops_server, job_id)[0] == "failed" for job_id in matching)  # asking changes nothing
    browser.find_element(By.ID, "confirm-requeue").click()

    assert shown(browser, ".flash.ok") == "Re-queued 3 jobs."
    assert listed(browser) == {}  # re-queued jobs forget their error code
    assert shown(browser, '[data-queue="tag"]') == "3"
    browser.get(ops_server.url("/ops?state=queued&stage=tag"))
    assert listed(browser) == dict.fromkeys(matching, "queued")
    assert [db_job(ops_server, job_id) for job_id in matching] == [("queued", "tag", None)] * 3
    assert db_job(ops_server, kept) == ("running", "tag", None)
    assert queue_length(ops_server.broker_url, "tag") == 3
