"""CSV cell escaping for exports (pure: no Django).

A spreadsheet treats a cell starting with = + - @ (or a tab / carriage return)
as a formula; cluster-sourced text must never run as one, so such cells get a
leading apostrophe (OWASP "CSV injection").
"""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """The cell's text, with a leading ' when a spreadsheet would read a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def safe_row(values) -> list[str]:
    return [safe_cell(value) for value in values]
