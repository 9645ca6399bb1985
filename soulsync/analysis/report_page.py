"""The page the offline reports are written on (`soulsync monitor`'s index.html, `soulsync
recalibrate`'s recalibration.html): one shell and one style for both."""

from __future__ import annotations

import html

STYLE = """body {font-family: sans-serif; margin: 2em; max-width: 70em}
table {border-collapse: collapse} td, th {border: 1px solid #ccc; padding: 2px 8px}
img {max-width: 100%}"""


def report_page(title: str, body: str, style: str = "") -> str:
    """A whole HTML page: `title` (plain text, escaped here) and `body` (HTML, escaped by its
    maker), with the reports' style and any rules of the report's own."""
    rules = STYLE + (f"\n{style}" if style else "")
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>\n<style>{rules}</style></head><body>\n"
        f"{body}\n</body></html>\n"
    )
