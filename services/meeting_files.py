"""A meeting's minutes and decisions as files, for the notice board (议事结果公开) and the street's records: an XLSX
workbook (services/spreadsheets.py: people's text stays text) and a printable A4 PDF in the embedded CJK font of the
certificates (services/certificate_pdf.py), so it prints the same everywhere.

Only community staff make them. What goes on a notice board names no resident: partners present are named, other
attendees only counted; no phone is in either file. A meeting not yet held shows its agenda; a cancelled one the
reason.
"""

import io
from functools import partial
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select

from clock import to_local, utcnow
from extensions import db
from models import AgendaItem, MeetingDecision, MeetingTask, Region
from services import partners, spreadsheets
from services.certificate_pdf import FONT
from services.certificate_pdf import _register_font as register_font  # one registration of the font per process
from services.meetings import access_meeting

KIND_LABELS = {"joint": "五方联席会", "consultation": "议事协商会", "reception": "居民接待日", "hearing": "听证会"}
STATUS_LABELS = {"scheduled": "待召开", "held": "已召开", "cancelled": "已取消"}
TASK_LABELS = {"open": "办理中", "done": "已办结"}
MARGIN = 18 * mm


def minutes_facts(actor, meeting_id):
    """What both files show, read once (community staff only)."""
    meeting = access_meeting(actor, meeting_id, for_write=False, as_staff=True)
    community = db.session.get(Region, meeting.community_id)
    agenda = list(db.session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
                                     .order_by(AgendaItem.position)))
    decisions = list(db.session.scalars(select(MeetingDecision).where(MeetingDecision.meeting_id == meeting.id)
                                        .order_by(MeetingDecision.position)))
    tasks = {}
    for task in db.session.scalars(select(MeetingTask).where(MeetingTask.meeting_id == meeting.id)
                                   .order_by(MeetingTask.decision_index, MeetingTask.position)):
        tasks.setdefault(task.decision_id, []).append(task)
    attendance = meeting.attendance or []
    present_ids = [e["partner_id"] for e in attendance if e.get("partner_id")]
    names = partners.names([*present_ids, *meeting.partner_ids, *(t.owner_partner_id for g in tasks.values()
                                                                    for t in g)])
    starts = to_local(meeting.starts_at)
    return {
        "meeting": meeting, "community": community.name, "kind": KIND_LABELS[meeting.kind],
        "status": STATUS_LABELS[meeting.status], "when": starts.strftime("%Y年%m月%d日 %H:%M"),
        "day": starts.strftime("%Y%m%d"), "agenda": [item.title for item in agenda],
        "invited": [names[i] for i in meeting.partner_ids if i in names],
        "partners_present": [names[i] for i in present_ids if i in names],
        "others_present": sum(1 for e in attendance if not e.get("partner_id")),
        "decisions": [{"text": d.text, "votes": d.votes,
                       "agenda": agenda[d.agenda_index].title if d.agenda_index is not None
                       and d.agenda_index < len(agenda) else "",
                       "tasks": [{"title": t.title, "owner": names.get(t.owner_partner_id, ""),
                                  "due": t.due_date.isoformat(), "status": TASK_LABELS[t.status]}
                                 for t in tasks.get(d.id, [])]} for d in decisions],
        "printed": to_local(utcnow()).strftime("%Y年%m月%d日 %H:%M"),
    }


def filename(facts, extension):
    return f"meeting-{facts['meeting'].id}-{facts['day']}.{extension}"


def _votes(votes):
    if votes is None:
        return "未表决"
    return f"赞成 {votes['for']}，反对 {votes['against']}，弃权 {votes['abstain']}"


def _fact_rows(facts):
    meeting = facts["meeting"]
    rows = [("会议名称", meeting.title), ("会议类型", facts["kind"]), ("社区", facts["community"]),
            ("时间", facts["when"]), ("地点", meeting.place), ("状态", facts["status"])]
    if meeting.minutes_version:
        rows.append(("纪要版本", f"第 {meeting.minutes_version} 版"))
    if meeting.cancel_reason:
        rows.append(("取消原因", meeting.cancel_reason))
    rows.append(("邀请共建方", "、".join(facts["invited"]) or "无"))
    if meeting.minutes_version:
        rows += [("出席共建方", "、".join(facts["partners_present"]) or "无"),
                 ("其他参会人员", f"{facts['others_present']} 人")]
    return rows


def minutes_xlsx(actor, meeting_id):
    """The workbook's bytes and its download name: a sheet of the minutes, one of the decisions and their tasks."""
    facts = minutes_facts(actor, meeting_id)
    buffer = io.BytesIO()
    workbook = spreadsheets.workbook(buffer)
    bold = workbook.add_format({"bold": True})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    sheet = workbook.add_worksheet("会议纪要")
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 80)
    row = 0
    for label, value in _fact_rows(facts):
        sheet.write_string(row, 0, label, bold)
        sheet.write_string(row, 1, str(value), wrap)
        row += 1
    row += 1
    sheet.write_string(row, 0, "议程", bold)
    for n, title in enumerate(facts["agenda"], start=1):
        sheet.write_string(row, 1, f"{n}. {title}", wrap)
        row += 1
    row += 1
    sheet.write_string(row, 0, "纪要", bold)
    sheet.write_string(row, 1, facts["meeting"].summary or "（尚无纪要）", wrap)
    decisions = workbook.add_worksheet("议定事项")
    header = ("序号", "议程", "决定", "表决", "任务", "责任方", "期限", "状态")
    for column, width in enumerate((6, 24, 48, 24, 32, 20, 12, 10)):
        decisions.set_column(column, column, width)
    decisions.write_row(0, 0, header, bold)
    row = 1
    for n, decision in enumerate(facts["decisions"], start=1):
        for task in decision["tasks"] or [None]:
            decisions.write_number(row, 0, n)
            decisions.write_string(row, 1, decision["agenda"], wrap)
            decisions.write_string(row, 2, decision["text"], wrap)
            decisions.write_string(row, 3, _votes(decision["votes"]))
            if task is not None:
                decisions.write_string(row, 4, task["title"], wrap)
                decisions.write_string(row, 5, task["owner"])
                decisions.write_string(row, 6, task["due"])
                decisions.write_string(row, 7, task["status"])
            row += 1
    workbook.close()
    return buffer.getvalue(), filename(facts, "xlsx")


def _styles():
    base = ParagraphStyle("body", fontName=FONT, fontSize=11, leading=17, wordWrap="CJK")
    return {"title": ParagraphStyle("title", parent=base, fontSize=20, leading=28, alignment=TA_CENTER),
            "heading": ParagraphStyle("heading", parent=base, fontSize=13, leading=20, spaceBefore=6, spaceAfter=4),
            "body": base, "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13),
            "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=12, textColor=colors.grey)}


def _table(rows, widths, styles, header=False):
    table = Table([[Paragraph(escape(str(cell)), styles["cell"]) for cell in row] for row in rows], colWidths=widths,
                  repeatRows=1 if header else 0, hAlign="LEFT")
    style = [("FONTNAME", (0, 0), (-1, -1), FONT), ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
             ("VALIGN", (0, 0), (-1, -1), "TOP")]
    style.append(("BACKGROUND", (0, 0), (-1, 0) if header else (0, -1), colors.HexColor("#f2f2f2")))
    table.setStyle(TableStyle(style))
    return table


def _footer(canvas, doc, facts):
    canvas.saveState()
    canvas.setFont(FONT, 8)
    canvas.setFillColor(colors.grey)
    canvas.drawRightString(A4[0] - MARGIN, 10 * mm,
                           f"{facts['community']}　打印于 {facts['printed']}　第 {doc.page} 页")
    canvas.restoreState()


def minutes_pdf(actor, meeting_id):
    """The PDF's bytes and its download name: facts, agenda, minutes, decisions with their votes and tasks."""
    facts = minutes_facts(actor, meeting_id)
    register_font()
    styles = _styles()
    meeting = facts["meeting"]
    story = [Paragraph(escape(f"{facts['community']}{facts['kind']}纪要"), styles["title"]), Spacer(1, 6 * mm),
             _table(_fact_rows(facts), [32 * mm, 142 * mm], styles), Spacer(1, 4 * mm),
             Paragraph("议程", styles["heading"])]
    story += [Paragraph(escape(f"{n}. {title}"), styles["body"]) for n, title in enumerate(facts["agenda"], start=1)]
    if not facts["agenda"]:
        story.append(Paragraph("无", styles["body"]))
    story += [Paragraph("纪要", styles["heading"]),
              *[Paragraph(escape(line), styles["body"])
                for line in (meeting.summary or "（尚无纪要）").splitlines() if line.strip()]]
    story.append(Paragraph("议定事项", styles["heading"]))
    if facts["decisions"]:
        rows = [("序号", "决定", "表决", "任务（责任方，期限，状态）")]
        for n, decision in enumerate(facts["decisions"], start=1):
            tasks = "；".join(f"{t['title']}（{t['owner']}，{t['due']}，{t['status']}）" for t in decision["tasks"])
            text = f"【{decision['agenda']}】{decision['text']}" if decision["agenda"] else decision["text"]
            rows.append((n, text, _votes(decision["votes"]), tasks or "无"))
        story.append(_table(rows, [12 * mm, 74 * mm, 36 * mm, 52 * mm], styles, header=True))
    else:
        story.append(Paragraph("无", styles["body"]))
    story += [Spacer(1, 8 * mm),
              Paragraph("事事有协商，事事有回应。本纪要不含居民个人信息，可张贴公示。", styles["small"])]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN, title=f"{meeting.title} 会议纪要", author=facts["community"],
                            subject="会议纪要", creator="baodao", initialFontName=FONT, initialFontSize=11)
    doc.build(story, onFirstPage=partial(_footer, facts=facts), onLaterPages=partial(_footer, facts=facts))
    return buffer.getvalue(), filename(facts, "pdf")
