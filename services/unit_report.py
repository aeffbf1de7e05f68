"""A unit's yearly report on its members (what the unit's party secretary files at year end), as XLSX.

Members are read in batches and their figures come from the same grouped queries as ``GET /units/{id}/members``
(``services.reports.unit_member_rows``); XlsxWriter writes in constant-memory mode to a temporary file.
"""

import tempfile

from sqlalchemy import select

from extensions import db
from models import Region, User
from services import spreadsheets
from services.reports import unit_member_rows, unit_members

BATCH = 500
HEADERS = ("成员编号", "志愿者编号", "姓名", "报到状态", "报到社区", "本年度服务时长（小时）", "本年度积分",
           "本年度完成微心愿", "社区评价（星）", "社区评语")
REPORT_STATUS_LABELS = {"pending": "待审核", "approved": "已报到", "rejected": "未通过", "withdrawn": "已撤回"}


def _batches(query):
    """The unit's members, a batch at a time, by id (keyset pagination: no growing OFFSET)."""
    last_id = 0
    while True:
        batch = list(db.session.scalars(query.where(User.id > last_id).limit(BATCH)))
        if not batch:
            return
        yield batch
        last_id = batch[-1].id


def export_members_xlsx(actor, unit_id, *, year=None):
    """The unit's members with report status, community, hours, points, wishes and feedback for the year.

    Returns an open temporary file (removed when closed) and a download name."""
    query, year = unit_members(actor, unit_id, year=year)
    # Handed to the response, which closes (and so removes) it once sent.
    handle = tempfile.TemporaryFile(prefix="baodao-unit-report-", suffix=".xlsx")  # noqa: SIM115
    try:
        _write(handle, query, year)
    except Exception:
        handle.close()
        raise
    handle.seek(0)
    return handle, f"unit-{unit_id}-members-{year}.xlsx"


def _write(handle, query, year):
    """One header row, then one row per member, a batch of members at a time."""
    workbook = spreadsheets.workbook(handle)
    sheet = workbook.add_worksheet(f"{year}年度成员报到情况")
    bold = workbook.add_format({"bold": True})
    hours_format = workbook.add_format({"num_format": "0.00"})
    sheet.set_column(0, 1, 14)
    sheet.set_column(2, 4, 16)
    sheet.set_column(5, 8, 14)
    sheet.set_column(9, 9, 40)
    sheet.write_row(0, 0, HEADERS, bold)
    row_number = 1
    community_names = {}
    for members in _batches(query):
        rows = unit_member_rows(members, year)
        wanted = {r["community_id"] for r in rows if r["community_id"] and r["community_id"] not in community_names}
        if wanted:
            community_names.update(db.session.execute(
                select(Region.id, Region.name).where(Region.id.in_(wanted))).all())
        for row in rows:
            feedback = row["feedback"]
            sheet.write_number(row_number, 0, row["member_id"])
            sheet.write_string(row_number, 1, row["volunteer_number"] or "")
            sheet.write_string(row_number, 2, row["name"] or "")
            sheet.write_string(row_number, 3, REPORT_STATUS_LABELS.get(row["report_status"], "未报到"))
            sheet.write_string(row_number, 4, community_names.get(row["community_id"], ""))
            sheet.write_number(row_number, 5, float(row["approved_hours_this_year"]), hours_format)
            sheet.write_number(row_number, 6, row["points_this_year"])
            sheet.write_number(row_number, 7, row["wishes_completed_this_year"])
            if feedback is not None:
                sheet.write_number(row_number, 8, feedback.rating)
                sheet.write_string(row_number, 9, feedback.comment or "")
            row_number += 1
    workbook.close()
