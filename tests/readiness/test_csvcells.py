import pytest

from watchkeeper.csvcells import safe_cell, safe_row


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, ""),
        (3, "3"),
    ],
)
def test_cells_a_spreadsheet_would_run_get_a_leading_apostrophe(raw, escaped):
    assert safe_cell(raw) == escaped


def test_safe_row_escapes_each_cell():
    assert safe_row(["web", "=1+1"]) == ["web", "'=1+1"]
