"""A meeting's minutes and decisions as XLSX and as a printable PDF in the embedded Chinese font: the facts, the
agenda, the minutes, each decision with its vote and tasks; no resident named, no phone; formulas stay text."""

import io

import openpyxl
import pypdfium2
import pytest
from pypdf import PdfReader

from tests.factories import auth, error_code
from tests.governance_factories import API, governance_world, held_meeting, schedule

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def world():
    return governance_world()


def export(client, user, meeting_id, file_format=None):
    query = f"?format={file_format}" if file_format else ""
    return client.get(f"{API}/meetings/{meeting_id}/minutes/export{query}", headers=auth(user))


def test_the_xlsx_holds_the_minutes_and_each_decision_with_its_tasks(client, world):
    meeting = held_meeting(client, world)
    response = export(client, world["admin_a1"], meeting["id"])
    assert response.status_code == 200 and response.mimetype == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames == ["会议纪要", "议定事项"]
    facts = {row[0]: row[1] for row in workbook["会议纪要"].iter_rows(values_only=True) if row and row[0]}
    assert facts["会议名称"] == "五方联席会" and facts["会议类型"] == "五方联席会" and facts["社区"] == "a1社区"
    assert facts["状态"] == "已召开" and facts["纪要版本"] == "第 1 版"
    assert facts["出席共建方"] == "和平里社区党支部、示范区人民医院党支部" and facts["其他参会人员"] == "2 人"
    assert facts["纪要"].startswith("会议讨论了3号楼加装电梯方案")
    rows = list(workbook["议定事项"].iter_rows(values_only=True))
    assert rows[0] == ("序号", "议程", "决定", "表决", "任务", "责任方", "期限", "状态")
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[7]) for r in rows[1:]] == [
        (1, "加装电梯", "同意3号楼加装电梯方案", "赞成 18，反对 0，弃权 1", "物业公司出具施工方案", "安居物业公司",
         "办理中"),
        (1, "加装电梯", "同意3号楼加装电梯方案", "赞成 18，反对 0，弃权 1", "医院党支部组织志愿者入户宣传",
         "示范区人民医院党支部", "办理中"),
        (2, "", "下次会议听取施工方案", "未表决", None, None, None)]
    text = str([list(ws.iter_rows(values_only=True)) for ws in workbook])
    assert "王阿姨" not in text and "李师傅" not in text and "010-64001234" not in text and "1380000" not in text


def test_text_that_looks_like_a_formula_stays_text(client, world):
    meeting = schedule(client, world["admin_a1"], world["a1"], title="=HYPERLINK(\"http://evil.example\",\"点我\")")
    response = client.post(f"{API}/meetings/{meeting['id']}/minutes", json={"summary": "=1+1", "decisions": [
        {"text": "@SUM(A1:A9)", "tasks": [{"title": "+cmd", "owner_partner_id": world["partners"][0].id,
                                            "due_date": "2099-01-01"}]}]}, headers=auth(world["admin_a1"]))
    assert response.status_code == 200, response.get_json()
    data = export(client, world["admin_a1"], meeting["id"], "xlsx").data
    sheet = openpyxl.load_workbook(io.BytesIO(data))["会议纪要"]
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert all(cell.data_type == "s" for cell in cells)
    assert "=1+1" in [cell.value for cell in cells]
    decisions = openpyxl.load_workbook(io.BytesIO(data))["议定事项"]
    row = [cell for cell in next(decisions.iter_rows(min_row=2, max_row=2))]
    assert (row[2].value, row[2].data_type, row[4].value, row[4].data_type) == ("@SUM(A1:A9)", "s", "+cmd", "s")


def test_the_pdf_prints_the_minutes_in_the_embedded_font(client, world):
    meeting = held_meeting(client, world)
    response = export(client, world["street_admin"], meeting["id"], "pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.data
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("a1社区五方联席会纪要", "社区党群服务中心", "加装电梯", "会议讨论了3号楼加装电梯方案",
                     "同意3号楼加装电梯方案", "赞成 18", "物业公司出具施工方案", "安居物业公司", "和平里社区党支部",
                     "2 人"):
        assert expected in text, expected
    for absent in ("王阿姨", "李师傅", "010-64001234", "13800001234"):
        assert absent not in text
    fonts = [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]
    assert fonts
    for font in fonts:
        assert "/FontFile2" in font["/FontDescriptor"].get_object(), font["/BaseFont"]
        assert "WenQuanYi" in font["/BaseFont"]
    # It renders: the first page is not blank.
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=1).to_pil().convert("L")
    assert image.getextrema()[0] < 100


def test_a_scheduled_meeting_prints_its_agenda(client, world):
    meeting = schedule(client, world["admin_a1"], world["a1"], agenda=[{"title": "楼道堆物整治"}])
    text = PdfReader(io.BytesIO(export(client, world["admin_a1"], meeting["id"], "pdf").data)).pages[0].extract_text()
    assert "待召开" in text and "楼道堆物整治" in text and "尚无纪要" in text


def test_only_the_communitys_staff_export(client, world):
    meeting = held_meeting(client, world)
    for user in (world["member"], world["unit_admin"]):
        response = export(client, user, meeting["id"])
        assert response.status_code == 403 and error_code(response) == "community_staff_only"
    assert export(client, world["admin_b1"], meeting["id"]).status_code == 404
    assert export(client, world["admin_a1"], meeting["id"], "doc").status_code == 422
