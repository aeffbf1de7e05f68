"""Exports of service records (CSV and XLSX), streamed so a million rows never sit in memory.

Rows come from the database in batches (``yield_per``) within the caller's scope, ordered by community, then start
time, then record id: the order of the index ``(community_id, started_at, id)``. One community or a whole district
streams as the index is read, and a street's export sorts one community's records at a time: the first row never
waits for a sort of every record in scope. CSV is UTF-8 with a BOM so Excel opens the Chinese text correctly; XLSX
is written by XlsxWriter in constant-memory mode to a temporary file, which is then streamed and removed. Text
stays text in both (services/spreadsheets.py).
"""

import csv
import io
import os
import tempfile

from sqlalchemy import select
from sqlalchemy.orm import aliased

from clock import to_local
from extensions import db
from models import Activity, Post, Region, ServiceRecord, Shift, User
from services import records, spreadsheets
from services.authz import require_staff
from services.spreadsheets import csv_row

BATCH = 1000
CHUNK = 64 * 1024
HEADERS = ("记录编号", "志愿者编号", "姓名", "社区", "活动/岗位", "类别", "开始时间", "结束时间", "时长（小时）",
           "状态", "来源", "说明")
STATUS_LABELS = {"pending": "待审核", "approved": "已通过", "rejected": "已驳回"}
SOURCE_LABELS = {"checkin": "扫码签到", "auto_closed": "自动签退", "manual": "手工录入"}
CATEGORY_LABELS = {"civility": "文明倡导", "order": "秩序维护", "culture": "文化提升", "health": "健康管理",
                   "environment": "环境整治", "safety": "安全保障"}


def export_query(actor, *, community_id=None, member_id=None, status=None, date_from=None, date_to=None):
    """The export's rows within the caller's scope: by community (its id), then oldest first (start time, then record
    id). Within one community that is simply oldest first."""
    require_staff(actor)
    community = aliased(Region)
    query = (
        select(ServiceRecord.id, User.volunteer_number, User.name, community.name, Activity.title, Post.name,
               ServiceRecord.category, ServiceRecord.started_at, ServiceRecord.ended_at, ServiceRecord.hours,
               ServiceRecord.status, ServiceRecord.source, ServiceRecord.description)
        .join(User, User.id == ServiceRecord.member_id)
        .join(community, community.id == ServiceRecord.community_id)
        .outerjoin(Activity, Activity.id == ServiceRecord.activity_id)
        .outerjoin(Shift, Shift.id == ServiceRecord.shift_id)
        .outerjoin(Post, Post.id == Shift.post_id)
        .where(records.visible_to(actor)))
    query = records.filter_records(query, community_id, member_id, status, date_from, date_to)
    return query.order_by(ServiceRecord.community_id, ServiceRecord.started_at, ServiceRecord.id)


def _time(value):
    return to_local(value).strftime("%Y-%m-%d %H:%M")


def _rows(query, progress=None):
    """The export's rows as written; ``progress(n)`` is told every BATCH rows how many are done (a background job
    shows it)."""
    result = db.session.execute(query.execution_options(yield_per=BATCH))
    for n, (record_id, number, name, community, activity, post, category, started, ended, hours, status, source,
            description) in enumerate(result, start=1):
        if progress is not None and n % BATCH == 0:
            progress(n)
        yield (record_id, number or "", name or "", community, activity or post or "",
               CATEGORY_LABELS.get(category, category or ""), _time(started), _time(ended), f"{hours:.2f}",
               STATUS_LABELS.get(status, status), SOURCE_LABELS.get(source, source), description or "")


def csv_chunks(query, progress=None):
    """CSV text in chunks: a BOM, the header, then rows as they arrive from the database."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(HEADERS)
    for row in _rows(query, progress):
        writer.writerow(csv_row(row))
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def write_xlsx(query, progress=None):
    """Write the rows to a temporary XLSX file (constant memory) and return its path."""
    fd, path = tempfile.mkstemp(prefix="baodao-export-", suffix=".xlsx")
    os.close(fd)
    try:
        workbook = spreadsheets.workbook(path)
        sheet = workbook.add_worksheet("服务时长")
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, HEADERS, bold)
        for n, row in enumerate(_rows(query, progress), start=1):
            sheet.write_number(n, 0, row[0])
            sheet.write_row(n, 1, row[1:8])
            sheet.write_number(n, 8, float(row[8]))
            sheet.write_row(n, 9, row[9:])
        workbook.close()
    except Exception:
        os.unlink(path)
        raise
    return path


def file_chunks(path):
    """The file in chunks, removed once read (or when the client goes away)."""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)
