"""The certificate PDF, drawn only from a certificate's snapshot.

Every piece of text uses one TrueType CJK font (WenQuanYi Micro Hei, assets/fonts/) embedded as a subset, so the
PDF renders identically in every viewer, phones included, and no font is left to the viewer's substitution.
"""

import io
from datetime import date
from functools import cache, partial
from pathlib import Path
from xml.sax.saxutils import escape

import qrcode
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT_PATH = Path(__file__).resolve().parent.parent / "assets" / "fonts" / "wqy-microhei.ttc"
FONT = "WenQuanYiMicroHei"
QR_SIZE = 34 * mm
MARGIN = 20 * mm


@cache
def _register_font():
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_PATH), subfontIndex=0))
    return FONT


@cache
def _styles():
    base = ParagraphStyle("body", fontName=FONT, fontSize=11, leading=17, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=24, leading=32, alignment=TA_CENTER),
        "number": ParagraphStyle("number", parent=base, fontSize=10, alignment=TA_CENTER, textColor=colors.grey),
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=10, leading=14),
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=13, textColor=colors.grey),
        "sign": ParagraphStyle("sign", parent=base, alignment=TA_RIGHT),
    }


def _long_date(iso):
    day = date.fromisoformat(iso)
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def _p(text, style="body"):
    return Paragraph(escape(str(text)), _styles()[style])


def _facts_table(snapshot):
    member, issuer, period = snapshot["member"], snapshot["issuer"], snapshot["period"]
    rows = [
        ("姓名", member["name"]),
        ("志愿者编号", member["volunteer_number"]),
        ("身份证号", member["id_number_masked"] or "未登记"),
        ("服务期间", f"{_long_date(period['from'])} 至 {_long_date(period['to'])}"),
        ("出具单位", issuer["name"]),
        ("累计服务时长", f"{snapshot['total_hours']} 小时"),
    ]
    table = Table([[_p(k, "cell"), _p(v, "cell")] for k, v in rows], colWidths=[35 * mm, 100 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def _records_table(snapshot):
    header = [_p("序号", "cell"), _p("日期", "cell"), _p("服务项目（活动或岗位）", "cell"), _p("时长（小时）", "cell")]
    body = [[_p(i, "cell"), _p(r["date"], "cell"), _p(r["title"], "cell"), _p(r["hours"], "cell")]
            for i, r in enumerate(snapshot["records"], start=1)]
    total = [_p("合计", "cell"), "", "", _p(snapshot["total_hours"], "cell")]
    table = Table([header, *body, total], colWidths=[14 * mm, 28 * mm, 100 * mm, 28 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2")),
        ("SPAN", (0, -1), (2, -1)),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def _draw_qr(canvas, url):
    """The verify URL as a QR code of filled squares (no graphics renderer, so no stray default font)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(url)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    module = QR_SIZE / len(matrix)
    page_width, page_height = A4
    x, y = page_width - MARGIN - QR_SIZE, page_height - MARGIN - QR_SIZE + 6 * mm
    canvas.setFillColor(colors.black)
    for row, cells in enumerate(matrix):
        for col, dark in enumerate(cells):
            if dark:
                canvas.rect(x + col * module, y + QR_SIZE - (row + 1) * module, module, module, stroke=0, fill=1)
    canvas.setFont(FONT, 8)
    canvas.drawCentredString(x + QR_SIZE / 2, y - 3 * mm, "扫码核验")


def _footer(canvas, doc, snapshot):
    canvas.saveState()
    canvas.setFont(FONT, 8)
    canvas.setFillColor(colors.grey)
    canvas.drawRightString(A4[0] - MARGIN, 10 * mm, f"证明编号 {snapshot['number']}　第 {doc.page} 页")
    canvas.restoreState()


def _first_page(canvas, doc, snapshot):
    canvas.saveState()
    _draw_qr(canvas, snapshot["verify_url"])
    canvas.restoreState()
    _footer(canvas, doc, snapshot)


def render_certificate_pdf(snapshot):
    """The certificate as PDF bytes: facts, each record, the issuer with its contact, number, date and verify QR."""
    _register_font()
    issuer = snapshot["issuer"]
    story = [
        Spacer(1, 14 * mm),
        _p("志愿服务证明", "title"),
        _p(f"证明编号：{snapshot['number']}", "number"),
        Spacer(1, 8 * mm),
        _facts_table(snapshot),
        Spacer(1, 6 * mm),
        _p(f"兹证明以上志愿者在服务期间参加由{issuer['name']}组织的志愿服务，经该社区记录并审核，"
           f"累计志愿服务时长 {snapshot['total_hours']} 小时，明细如下："),
        Spacer(1, 3 * mm),
        _records_table(snapshot),
        Spacer(1, 10 * mm),
        _p(f"出具单位：{issuer['name']}（盖章）", "sign"),
    ]
    contact = "　".join(part for part in (issuer["contact_name"], issuer["contact_phone"]) if part)
    if contact:
        story.append(_p(f"联系人及电话：{contact}", "sign"))
    if issuer["address"]:
        story.append(_p(f"地址：{issuer['address']}", "sign"))
    story += [
        _p(f"出具日期：{_long_date(snapshot['issue_date'])}", "sign"),
        Spacer(1, 8 * mm),
        _p("本证明依据民政部《志愿服务记录与证明出具办法（试行）》出具，仅记载出具单位记录的志愿服务信息。"
           "扫描右上角二维码或访问以下地址核验真伪：", "small"),
        _p(snapshot["verify_url"], "small"),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN, title=f"志愿服务证明 {snapshot['number']}",
                            author=issuer["name"], subject="志愿服务证明", creator="baodao",
                            initialFontName=FONT, initialFontSize=11)
    doc.build(story, onFirstPage=partial(_first_page, snapshot=snapshot),
              onLaterPages=partial(_footer, snapshot=snapshot))
    return buffer.getvalue()
