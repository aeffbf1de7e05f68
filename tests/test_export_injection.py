"""Text written by people stays text in every export (issue 16, formula injection): XLSX cells hold strings, never
formulas or links; CSV cells that a spreadsheet would evaluate start with a single quote (OWASP)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest

from extensions import db
from models import Report, ServiceRecord
from services.spreadsheets import FORMULA_STARTS, csv_cell
from tests.factories import auth, make_member, make_staff, make_unit, region_tree

HOSTILE = ['=HYPERLINK("http://evil.example/x","点我")', "+1+2", "-3+4", "@SUM(A1)", "\tTAB", "\rCR",
           "=cmd|' /C calc'!A0"]


@pytest.fixture
def hostile_world():
    """Members named, and records described, as formulas; a unit whose admin exports its members."""
    tree = region_tree()
    unit = make_unit(tree["a1"])
    when = datetime(2024, 5, 1, 1, tzinfo=UTC)
    for n, text in enumerate(HOSTILE):
        member = make_member(text, unit=unit)
        db.session.add(Report(kind="member", status="approved", member_id=member.id, unit_id=unit.id,
                              community_id=tree["a1"].id, created_by=member.id))
        db.session.add(ServiceRecord(member_id=member.id, community_id=tree["a1"].id, started_at=when + timedelta(n),
                                     ended_at=when + timedelta(n, hours=2), hours=Decimal(1), status="approved",
                                     source="manual", description=text))
    db.session.commit()
    return {"staff": make_staff("community_admin", tree["a1"]), "unit": unit,
            "unit_admin": make_staff("unit_admin", unit)}


def _xlsx_cells(data):
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]


# Every export there is: (path, who downloads it, "csv" or "xlsx").
EXPORTS = [
    ("/api/v1/service-records/export?format=csv", "staff", "csv"),
    ("/api/v1/service-records/export?format=xlsx", "staff", "xlsx"),
    ("/api/v1/units/{unit}/members/export?year=2024", "unit_admin", "xlsx"),
]


@pytest.mark.parametrize("path, who, kind", EXPORTS)
def test_every_export_writes_hostile_text_as_text(client, hostile_world, path, who, kind):
    response = client.get(path.format(unit=hostile_world["unit"].id), headers=auth(hostile_world[who]))
    assert response.status_code == 200
    if kind == "xlsx":
        cells = _xlsx_cells(response.data)
        for text in HOSTILE:
            # XlsxWriter stores a carriage return as _x000D_, which openpyxl leaves as it is.
            found = [c for c in cells if str(c.value).replace("_x000D_", "\r") == text]
            assert found, text
            assert all(c.data_type == "s" and c.hyperlink is None for c in found), text
        assert not any(c.data_type == "f" for c in cells)
        return
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    cells = [cell for row in rows[1:] for cell in row]
    assert not any(cell.startswith(FORMULA_STARTS) for cell in cells)
    for text in HOSTILE:
        assert cells.count("'" + text) == 2, text  # the name and the description


def test_only_what_a_spreadsheet_would_evaluate_is_quoted():
    assert [csv_cell(v) for v in ("王伟", "1.50", "a=b", 42, None, "=1")] == ["王伟", "1.50", "a=b", 42, None, "'=1"]
