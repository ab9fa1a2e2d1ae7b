"""In a real browser: an admin tests a connection, sees the poller's error, adds the cluster."""

from clusters.models import Cluster
from tests.clusters.conftest import tls_material

from .conftest import login, screenshot

MISSING = "/nonexistent/wk-e2e/docker.sock"
PEM_CERT, PEM_KEY = tls_material()


def pem(name: str, text: str) -> dict:
    return {"name": name, "mimeType": "application/x-pem-file", "buffer": text.encode()}


def test_an_admin_tests_a_bad_path_then_adds_the_cluster(page, admin_user):
    login(page, admin_user)
    page.locator("#add-cluster").click()
    page.wait_for_url("**/clusters/new/")
    page.fill("#id_name", "edge")

    # htmx sends the chosen files too: the stored-files check passes, the connection fails
    page.fill("#id_url", "tcp://127.0.0.1:1")
    page.set_input_files("#id_tls_ca", pem("ca.pem", PEM_CERT))
    page.set_input_files("#id_tls_cert", pem("cert.pem", PEM_CERT))
    page.set_input_files("#id_tls_key", pem("key.pem", PEM_KEY))
    page.click("#test-connection")
    refused = page.locator("#connection-failed", has_text="Connection refused by tcp://127.0.0.1:1")
    refused.wait_for()

    page.fill("#id_url", f"unix://{MISSING}")
    for field in ("#id_tls_ca", "#id_tls_cert", "#id_tls_key"):
        page.set_input_files(field, [])
    page.click("#test-connection")
    page.locator("#connection-failed", has_text=MISSING).wait_for()
    result = page.locator("#connection-result").inner_text()
    assert f"The socket {MISSING} does not exist" in result and "Nothing was saved" in result
    assert page.url.endswith("/clusters/new/") and page.input_value("#id_name") == "edge"
    assert not Cluster.objects.exists()
    screenshot(page, "cluster-add-test-failed")

    page.click("button[name=save]")
    page.wait_for_url(lambda url: url.rstrip("/").count("/") == 2)  # the fleet page
    row = page.locator("tr.fleet-row[data-cluster=edge]")
    assert row.locator("a.cluster-name").inner_text() == "edge"
    assert page.locator(".messages").get_by_text("Added edge").count() == 1
    assert Cluster.objects.get().url == f"unix://{MISSING}"

    row.locator("a.cluster-name").click()
    page.locator("#cluster-settings").click()
    page.wait_for_url("**/clusters/edge/settings/")
    assert page.input_value("#id_url") == f"unix://{MISSING}"
    screenshot(page, "cluster-settings")
    assert page.dialogs == []
