"""The patient timeline page: lab trends per LOINC code across documents, and the medication history."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.unit.gateway.test_fhir import finish_with


def test_timeline_plots_each_coded_test_over_time_and_lists_medications(client: FlaskClient) -> None:
    rx = finish_with(client, "rx-india-clean", patient="p-time", seed=1)
    first = finish_with(client, "lab-clean", patient="p-time", seed=2, document_date="2025-01-10")
    second = finish_with(client, "lab-clean", patient="p-time", seed=3, document_date="2025-06-10")
    page = client.get("/patients/p-time/timeline")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    coded = {r.test.loinc.code for r in first.lab_results if r.test.loinc and r.value is not None}
    assert set(re.findall(r'data-loinc="([^"]+)"', html)) == coded
    # Each coded test has one point per report, at the report's date.
    for code in coded:
        figure = html.split(f'data-loinc="{code}"', 1)[1].split("</figure>", 1)[0]
        assert figure.count("<circle") == 2
        assert "2025-01-10" in figure and "2025-06-10" in figure
    assert len(second.lab_results) == len(first.lab_results)
    rows = html.split('<table class="medications">', 1)[1].count("<tr>") - 1
    assert rows == len(rx.medications)
    for item in rx.medications:
        assert item.text in html


def test_timeline_of_unknown_patient_is_404(client: FlaskClient) -> None:
    assert client.get("/patients/nobody/timeline").status_code == 404
