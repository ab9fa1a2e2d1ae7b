"""Findings as CSV: the page's filters, every matching row, formula cells escaped."""

import csv
import io

import pytest

from .test_findings_page import bulk_checks, scored

pytestmark = pytest.mark.django_db
URL = "/readiness/findings.csv"


def rows(client, **query):
    response = client.get(URL, query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_csv_follows_the_cluster_filter_and_escapes_formula_cells(client, viewer):
    client.force_login(viewer)
    lab = scored("lab")
    scored("prod")
    bulk_checks(lab, "topology.multi-node", 2, prefix="=evil", message="@SUM(A1)")
    header, *lab_rows = rows(client, cluster="lab")
    assert header[0] == "cluster"
    assert lab_rows and {r[0] for r in lab_rows} == {"lab"}
    evil = [r for r in lab_rows if r[5].startswith("'=evil")]
    assert len(evil) == 2 and all(r[6] == "'@SUM(A1)" for r in evil)
    assert not any(r[5].startswith("=") or r[6].startswith("@") for r in lab_rows)
    _, *all_rows = rows(client)
    assert {r[0] for r in all_rows} == {"lab", "prod"}
