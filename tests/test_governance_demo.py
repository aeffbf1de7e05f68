"""seed-demo's co-governance step: 和平里社区 with its five partners and two more, a year of monthly joint meetings
with one month missing, a consultation with a unanimous vote, tasks open, overdue and done, a convention in two
versions, all read back through the API."""

from sqlalchemy import func, select

from clock import local_today
from demo import appeals, foundation, governance, wishes
from extensions import db
from models import Meeting, Project
from tests.factories import auth

API = "/api/v1"


def _month_ago(today, months):
    month = today.month - months
    return (today.year, month) if month >= 1 else (today.year - 1, month + 12)


def test_demo_governance_reads_back_through_the_api(client):
    ctx = {}
    foundation.seed(ctx)
    wishes.seed(ctx)
    appeals.seed(ctx)
    summary = governance.seed(ctx)
    db.session.commit()
    community, staff, member = ctx["communities"][0], ctx["community_admins"][0], ctx["members"][20]
    assert summary["partners"] == 7

    partners = client.get(f"{API}/partners?community_id={community.id}&per_page=100", headers=auth(member)).get_json()
    assert {p["role"] for p in partners["items"]} == {"party_branch", "residents_committee", "property_company",
                                                      "owners_committee", "social_org", "unit", "department"}
    assert all(p["contact_phone"] is None and "****" in p["contact_phone_masked"] for p in partners["items"])

    today = local_today()
    joint = db.session.scalars(select(Meeting).where(Meeting.community_id == community.id, Meeting.kind == "joint")
                               .order_by(Meeting.starts_at)).all()
    months = {(m.starts_at.year, m.starts_at.month) for m in joint}
    assert len(joint) == 11 and _month_ago(today, governance.MISSING_MONTHS_AGO) not in months
    figures = client.get(f"{API}/stats/governance?region_id={community.id}", headers=auth(staff)).get_json()
    row = figures["items"][0]
    missing_year, missing_month = _month_ago(today, governance.MISSING_MONTHS_AGO)
    expected = {missing_month} if missing_year == today.year else set()
    if today.day < 10:
        expected.add(today.month)  # this month's meeting is still to come
    assert set(row["months_without_joint_meeting"]) == expected
    assert row["tasks_open"] >= 2 and row["tasks_overdue"] >= 1

    listed = client.get(f"{API}/meetings?community_id={community.id}&kind=consultation", headers=auth(member))
    consultation = listed.get_json()["items"][0]
    assert consultation["decisions"][0]["votes"] == {"for": 45, "against": 0, "abstain": 0}
    assert "attendance" not in consultation
    tasks = client.get(f"{API}/tasks?community_id={community.id}&per_page=100", headers=auth(staff)).get_json()
    statuses = {(t["status"], t["overdue"]) for t in tasks["items"]}
    assert {("open", True), ("open", False), ("done", False)} <= statuses
    overdue = client.get(f"{API}/tasks?status=overdue", headers=auth(staff)).get_json()
    assert "出具施工方案并公示" in {t["title"] for t in overdue["items"]}

    corrected = next(m for m in joint if m.minutes_version == 2)
    versions = client.get(f"{API}/meetings/{corrected.id}/minutes/versions", headers=auth(staff)).get_json()
    assert [v["reason"] for v in versions["items"]] == [None, "补记列席的驻区单位"]

    conventions = client.get(f"{API}/conventions?community_id={community.id}", headers=auth(member)).get_json()
    convention = conventions["items"][0]
    assert convention["version"] == 2 and len(convention["partners"]) == 7
    history = client.get(f"{API}/conventions/{convention['id']}/versions", headers=auth(member)).get_json()
    assert history["total"] == 2

    project = db.session.scalar(select(Project).where(Project.decision_id.is_not(None)))
    shown = client.get(f"{API}/projects/{project.id}", headers=auth(member)).get_json()
    assert shown["decision_id"] in {d["id"] for m in shown["meetings"] for d in m["decisions"]}
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == summary["meetings"] == 13
