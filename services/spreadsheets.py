"""Every file of rows baodao writes (CSV and XLSX) is made here, so that text written by people stays text.

A name such as ``=HYPERLINK("http://evil.example/x","点我")`` must never become a live formula in the hands of the
staff who open an export (CSV or formula injection, OWASP). So:

- XLSX workbooks are made with XlsxWriter's ``strings_to_formulas``, ``strings_to_urls`` and ``strings_to_numbers``
  off: whatever a row holds, a ``str`` is written as a string cell;
- CSV cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return) get a leading single quote, as OWASP recommends; the csv module quotes the rest.
"""

import xlsxwriter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A value as a CSV cell no spreadsheet evaluates."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(values):
    return [csv_cell(value) for value in values]


def workbook(target):
    """A constant-memory XLSX workbook writing to ``target`` (a path or a file) in which text is only ever text."""
    return xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
