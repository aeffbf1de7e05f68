"""Meetings (五方联席会, 议事协商会, 居民接待日, 听证会): scheduling with an agenda, minutes once, corrections as
versions, cancellation, what residents and staff see, and the meetings shown on needs, projects and appeals."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clock import local_today, utcnow
from extensions import db
from models import Appeal, MeetingMinutes, MeetingTask, Need, Project
from tests.appeal_factories import accepted_appeal, appeal_world
from tests.factories import auth, error_code, make_member
from tests.governance_factories import API, governance_world, held_meeting, make_partner, minutes_body, schedule, when

MEMBER_SHAPE = {"id", "community_id", "kind", "title", "starts_at", "place", "status", "summary", "decisions"}


@pytest.fixture
def world():
    return governance_world()


def record(client, user, meeting_id, body):
    return client.post(f"{API}/meetings/{meeting_id}/minutes", json=body, headers=auth(user))


def correct(client, user, meeting_id, body):
    return client.put(f"{API}/meetings/{meeting_id}/minutes", json=body, headers=auth(user))


def details(response):
    return response.get_json()["error"]["details"]


def test_community_staff_schedule_a_meeting_with_partners_and_an_agenda(client, world):
    partners = world["partners"]
    meeting = schedule(client, world["admin_a1"], world["a1"], kind="consultation", title="加装电梯议事协商会",
                       starts_at=when(3, 19), partner_ids=[partners[0].id, partners[2].id, partners[0].id],
                       agenda=[{"title": "加装电梯", "need_id": world["need"].id},
                               {"title": "项目方案", "project_id": world["project"].id}])
    assert meeting["status"] == "scheduled" and meeting["kind"] == "consultation"
    assert meeting["starts_at"].endswith("+08:00") and meeting["starts_at"].startswith(
        (local_today() + timedelta(days=3)).isoformat() + "T19:00")
    assert meeting["partner_ids"] == [partners[0].id, partners[2].id]
    assert [p["name"] for p in meeting["partners"]] == ["和平里社区党支部", "安居物业公司"]
    assert [(a["index"], a["title"], a["need_id"], a["project_id"]) for a in meeting["agenda"]] == [
        (0, "加装电梯", world["need"].id, None), (1, "项目方案", None, world["project"].id)]
    assert meeting["summary"] is None and meeting["decisions"] == [] and meeting["minutes_version"] == 0


def test_a_meeting_may_start_in_the_past(client, world):
    meeting = schedule(client, world["street_admin"], world["a1"], starts_at=when(-40))
    assert meeting["status"] == "scheduled"


def test_partners_and_agenda_references_belong_to_the_community(client, world):
    headers = auth(world["admin_a1"])
    base = {"community_id": world["a1"].id, "kind": "joint", "title": "联席会", "starts_at": when(1),
            "place": "会议室"}
    response = client.post(f"{API}/meetings", json={**base, "partner_ids": [world["b1_partner"].id]},
                           headers=headers)
    assert response.status_code == 422 and list(details(response)) == ["partner_ids"]
    other_need = Need(community_id=world["b1"].id, title="b1 的需求", category="环境", source="visit", status="open")
    db.session.add(other_need)
    db.session.commit()
    for item in ({"title": "x", "need_id": other_need.id}, {"title": "x", "need_id": 999_999},
                 {"title": "x", "appeal_id": 999_999}, {"title": "x", "project_id": 999_999}):
        response = client.post(f"{API}/meetings", json={**base, "agenda": [item]}, headers=headers)
        assert response.status_code == 422 and list(details(response)) == ["agenda"], item
    response = client.post(f"{API}/meetings", json={**base, "kind": "party"}, headers=headers)
    assert response.status_code == 422 and "kind" in details(response)


def test_who_may_schedule(client, world):
    body = {"community_id": world["a1"].id, "kind": "joint", "title": "联席会", "starts_at": when(1),
            "place": "会议室"}
    for user in (world["member"], world["unit_admin"]):
        response = client.post(f"{API}/meetings", json=body, headers=auth(user))
        assert response.status_code == 403 and error_code(response) == "community_staff_only"
    response = client.post(f"{API}/meetings", json=body, headers=auth(world["admin_b1"]))
    assert response.status_code == 404 and error_code(response) == "region_not_found"
    # Naming nothing is 422 first, whatever the scope.
    response = client.post(f"{API}/meetings", json={**body, "partner_ids": [999_999]}, headers=auth(world["admin_b1"]))
    assert response.status_code == 422 and list(details(response)) == ["partner_ids"]


def test_minutes_are_recorded_once_and_the_meeting_is_held(client, world):
    meeting = held_meeting(client, world)
    assert meeting["status"] == "held" and meeting["minutes_version"] == 1 and meeting["held_at"]
    assert meeting["summary"].startswith("会议讨论了")
    assert meeting["attendance"] == [
        {"partner_id": world["partners"][0].id, "member_id": None, "name": "和平里社区党支部"},
        {"partner_id": world["unit_partner"].id, "member_id": None, "name": "示范区人民医院党支部"},
        {"partner_id": None, "member_id": world["attendee"].id, "name": "居民代表王阿姨"},
        {"partner_id": None, "member_id": None, "name": "楼门长李师傅"}]
    first, second = meeting["decisions"]
    assert (first["index"], first["agenda_index"], first["votes"]) == (0, 0, {"for": 18, "against": 0, "abstain": 1})
    assert [t["title"] for t in first["tasks"]] == ["物业公司出具施工方案", "医院党支部组织志愿者入户宣传"]
    task = first["tasks"][0]
    assert (task["owner_name"], task["status"], task["overdue"], task["decision_index"]) == (
        "安居物业公司", "open", False, 0)
    assert (second["agenda_index"], second["votes"], second["tasks"]) == (None, None, [])
    again = record(client, world["admin_a1"], meeting["id"], minutes_body(world))
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    assert db.session.scalar(select(func.count()).select_from(MeetingTask)) == 2
    assert db.session.scalar(select(func.count()).select_from(MeetingMinutes)) == 1


@pytest.mark.parametrize("entry", [{}, {"partner_id": 1, "name": "两个键"}, {"name": None},
                                   {"member_id": 1, "partner_id": 1}])
def test_each_attendance_entry_has_exactly_one_key(client, world, entry):
    meeting = schedule(client, world["admin_a1"], world["a1"])
    response = record(client, world["admin_a1"], meeting["id"], {"summary": "纪要", "attendance": [entry]})
    assert response.status_code == 422 and list(details(response)) == ["attendance"]


def test_minutes_name_only_the_communitys_partners_and_agenda(client, world):
    meeting = schedule(client, world["admin_a1"], world["a1"], agenda=[{"title": "唯一议题"}])
    headers = auth(world["admin_a1"])
    due = local_today().isoformat()
    cases = [
        ({"attendance": [{"partner_id": world["b1_partner"].id}]}, "attendance"),
        ({"attendance": [{"member_id": 999_999}]}, "attendance"),
        ({"decisions": [{"text": "x", "agenda_index": 1}]}, "decisions"),
        ({"decisions": [{"text": "x", "tasks": [{"title": "t", "owner_partner_id": world["b1_partner"].id,
                                                 "due_date": due}]}]}, "decisions"),
        ({"decisions": [{"text": "x", "tasks": [{"title": "t", "owner_partner_id": world["partners"][0].id,
                                                 "due_date": (local_today() - timedelta(days=5)).isoformat()}]}]},
         "decisions"),
        ({"decisions": [{"text": "x", "votes": {"for": 1, "against": -1, "abstain": 0}}]}, "decisions"),
        ({"decisions": [{"text": "x", "votes": {"for": 1}}]}, "decisions"),
    ]
    for fields, field in cases:
        response = client.post(f"{API}/meetings/{meeting['id']}/minutes", json={"summary": "纪要", **fields},
                               headers=headers)
        assert response.status_code == 422 and list(details(response)) == [field], (fields, response.get_json())
    assert db.session.scalar(select(func.count()).select_from(MeetingMinutes)) == 0


def test_recording_minutes_is_for_the_communitys_staff_in_the_contracts_order(client, world):
    meeting = schedule(client, world["admin_a1"], world["a1"])
    for user in (world["member"], world["unit_admin"]):
        response = record(client, user, meeting["id"], {"summary": "纪要"})
        assert response.status_code == 403 and error_code(response) == "community_staff_only"
    response = record(client, world["admin_b1"], meeting["id"], {"summary": "纪要"})
    assert response.status_code == 404 and error_code(response) == "meeting_not_found"
    # A member id naming nobody is 422 before the meeting's 404.
    response = record(client, world["admin_b1"], meeting["id"], {"summary": "纪要",
                                                                 "attendance": [{"member_id": 999_999}]})
    assert response.status_code == 422
    response = record(client, world["admin_a1"], 999_999, {"summary": "纪要"})
    assert response.status_code == 404
    assert record(client, world["street_admin"], meeting["id"], {"summary": "纪要"}).status_code == 200


def test_residents_see_what_was_decided_and_never_who_attended(client, world):
    meeting = held_meeting(client, world)
    for user in (world["member"], world["attendee"], world["unit_admin"], world["admin_b1"]):
        shown = client.get(f"{API}/meetings/{meeting['id']}", headers=auth(user)).get_json()
        assert set(shown) == MEMBER_SHAPE, user
        assert shown["decisions"] == [
            {"text": "同意3号楼加装电梯方案", "votes": {"for": 18, "against": 0, "abstain": 1}},
            {"text": "下次会议听取施工方案", "votes": None}]
        text = str(shown)
        assert "王阿姨" not in text and "李师傅" not in text and "138" not in text
        listed = client.get(f"{API}/meetings?community_id={world['a1'].id}", headers=auth(user)).get_json()
        assert [set(item) for item in listed["items"]] == [MEMBER_SHAPE]
    for user in (world["admin_a1"], world["street_admin"], world["district_admin"]):
        shown = client.get(f"{API}/meetings/{meeting['id']}", headers=auth(user)).get_json()
        assert shown["attendance"][2]["name"] == "居民代表王阿姨" and shown["agenda"], user


def test_lists_filter_by_community_kind_status_and_local_dates(client, world):
    staff = world["admin_a1"]
    schedule(client, staff, world["a1"], title="上月联席会", starts_at=when(-30))
    consultation = schedule(client, staff, world["a1"], kind="consultation", title="议事会", starts_at=when(-2))
    schedule(client, staff, world["a1"], kind="reception", title="接待日", starts_at=when(5))
    schedule(client, world["admin_b1"], world["b1"], title="b1 联席会")
    record(client, staff, consultation["id"], {"summary": "议定"})
    headers = auth(world["member"])

    def titles(query):
        response = client.get(f"{API}/meetings?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [m["title"] for m in response.get_json()["items"]]

    assert titles(f"community_id={world['a1'].id}") == ["接待日", "议事会", "上月联席会"]
    assert titles(f"community_id={world['a1'].id}&kind=joint") == ["上月联席会"]
    assert titles("status=held") == ["议事会"]
    assert titles(f"community_id={world['a1'].id}&from={(local_today() - timedelta(days=2)).isoformat()}"
                  f"&to={local_today().isoformat()}") == ["议事会"]
    assert client.get(f"{API}/meetings?kind=party", headers=headers).status_code == 422


def test_a_scheduled_meeting_is_rescheduled_a_held_one_is_not(client, world):
    meeting = schedule(client, world["admin_a1"], world["a1"], agenda=[{"title": "旧议题"}])
    headers = auth(world["admin_a1"])
    response = client.patch(f"{API}/meetings/{meeting['id']}", json={
        "starts_at": when(7, 9), "place": "二楼会议室", "agenda": [{"title": "新议题", "need_id": world["need"].id}],
        "partner_ids": [world["partners"][1].id]}, headers=headers)
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert changed["place"] == "二楼会议室" and changed["title"] == "五方联席会"
    assert [a["title"] for a in changed["agenda"]] == ["新议题"] and changed["partner_ids"] == [world["partners"][1].id]
    response = client.patch(f"{API}/meetings/{meeting['id']}", json={"partner_ids": [world["b1_partner"].id]},
                            headers=headers)
    assert response.status_code == 422
    assert client.patch(f"{API}/meetings/{meeting['id']}", json={"kind": "hearing"}, headers=headers).status_code == 422
    record(client, world["admin_a1"], meeting["id"], {"summary": "纪要"})
    response = client.patch(f"{API}/meetings/{meeting['id']}", json={"place": "别处"}, headers=headers)
    assert response.status_code == 409 and error_code(response) == "invalid_state"


def test_cancel_only_from_scheduled_with_a_reason(client, world):
    meeting = schedule(client, world["admin_a1"], world["a1"])
    path = f"{API}/meetings/{meeting['id']}/cancel"
    headers = auth(world["admin_a1"])
    assert client.post(path, json={}, headers=headers).status_code == 422
    response = client.post(path, json={"reason": "主持人临时公出"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled" and response.get_json()["cancel_reason"] == "主持人临时公出"
    again = client.post(path, json={"reason": "再取消"}, headers=headers)
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    response = record(client, world["admin_a1"], meeting["id"], {"summary": "纪要"})
    assert response.status_code == 409 and error_code(response) == "invalid_state"
    held = held_meeting(client, world)
    response = client.post(f"{API}/meetings/{held['id']}/cancel", json={"reason": "x"}, headers=headers)
    assert response.status_code == 409


def test_a_correction_is_a_new_version_with_its_reason_and_tasks_keep_their_status(client, world):
    meeting = held_meeting(client, world)
    headers = auth(world["admin_a1"])
    done_task = meeting["decisions"][0]["tasks"][1]
    assert client.post(f"{API}/tasks/{done_task['id']}/done", json={"note": "已入户宣传 40 户"},
                       headers=headers).status_code == 200
    body = minutes_body(world)
    body["summary"] = "会议讨论了3号楼加装电梯方案（更正：表决 19 票赞成）。"
    body["decisions"][0]["votes"] = {"for": 19, "against": 0, "abstain": 0}
    body["decisions"][0]["tasks"][1]["title"] = "医院党支部组织志愿者入户宣传（两周内）"
    body["decisions"][1]["tasks"] = [{"title": "居委会通知下次会议", "owner_partner_id": world["partners"][1].id,
                                      "due_date": local_today().isoformat()}]
    body["decisions"].append({"text": "增设：下月听取业委会意见", "agenda_index": 1})
    assert correct(client, world["admin_a1"], meeting["id"], body).status_code == 422  # no reason
    response = correct(client, world["admin_a1"], meeting["id"], {**body, "reason": "表决票数记录有误"})
    assert response.status_code == 200, response.get_json()
    corrected = response.get_json()
    assert corrected["minutes_version"] == 2 and corrected["summary"].endswith("（更正：表决 19 票赞成）。")
    first = corrected["decisions"][0]
    assert first["id"] == meeting["decisions"][0]["id"] and first["votes"]["for"] == 19
    kept = first["tasks"][1]
    assert (kept["id"], kept["status"], kept["note"]) == (done_task["id"], "done", "已入户宣传 40 户")
    assert kept["title"] == "医院党支部组织志愿者入户宣传（两周内）"
    assert [t["title"] for t in corrected["decisions"][1]["tasks"]] == ["居委会通知下次会议"]
    assert len(corrected["decisions"]) == 3
    versions = client.get(f"{API}/meetings/{meeting['id']}/minutes/versions", headers=headers).get_json()
    assert versions["total"] == 2
    assert [(v["version"], v["reason"]) for v in versions["items"]] == [(1, None), (2, "表决票数记录有误")]
    assert versions["items"][0]["decisions"][0]["votes"] == {"for": 18, "against": 0, "abstain": 1}
    assert versions["items"][0]["attendance"][2]["name"] == "居民代表王阿姨"
    assert versions["items"][1]["recorded_by"] == world["admin_a1"].id


def test_a_correction_keeps_every_decision_and_task_already_recorded(client, world):
    meeting = held_meeting(client, world)
    body = minutes_body(world, reason="删减")
    fewer_decisions = {**body, "decisions": body["decisions"][:1]}
    response = correct(client, world["admin_a1"], meeting["id"], fewer_decisions)
    assert response.status_code == 422 and list(details(response)) == ["decisions"]
    body["decisions"][0]["tasks"] = body["decisions"][0]["tasks"][:1]
    response = correct(client, world["admin_a1"], meeting["id"], body)
    assert response.status_code == 422 and list(details(response)) == ["decisions"]
    assert db.session.scalar(select(func.count()).select_from(MeetingMinutes)) == 1


def test_only_a_held_meetings_minutes_are_corrected_and_only_staff_read_the_versions(client, world):
    meeting = schedule(client, world["admin_a1"], world["a1"])
    response = correct(client, world["admin_a1"], meeting["id"], {"summary": "纪要", "reason": "更正"})
    assert response.status_code == 409 and error_code(response) == "invalid_state"
    held = held_meeting(client, world)
    path = f"{API}/meetings/{held['id']}/minutes/versions"
    response = client.get(path, headers=auth(world["member"]))
    assert response.status_code == 403 and error_code(response) == "community_staff_only"
    assert client.get(path, headers=auth(world["admin_b1"])).status_code == 404
    assert client.get(path, headers=auth(world["street_admin"])).get_json()["total"] == 1


def test_needs_and_projects_show_the_meetings_and_decisions_about_them(client, world):
    meeting = held_meeting(client, world)
    schedule(client, world["admin_a1"], world["a1"], title="下次会议", starts_at=when(10),
             agenda=[{"title": "施工方案", "project_id": world["project"].id}])
    cancelled = schedule(client, world["admin_a1"], world["a1"], title="取消的会",
                         agenda=[{"title": "x", "need_id": world["need"].id}])
    client.post(f"{API}/meetings/{cancelled['id']}/cancel", json={"reason": "改期"}, headers=auth(world["admin_a1"]))
    need = client.get(f"{API}/needs/{world['need'].id}", headers=auth(world["member"]))
    assert need.status_code == 200, need.get_json()
    assert need.get_json()["meetings"] == [{
        "id": meeting["id"], "title": "五方联席会", "starts_at": meeting["starts_at"],
        "decisions": [{"id": meeting["decisions"][0]["id"], "text": "同意3号楼加装电梯方案"}]}]
    project = client.get(f"{API}/projects/{world['project'].id}", headers=auth(world["member"])).get_json()
    assert [m["title"] for m in project["meetings"]] == ["五方联席会", "下次会议"]
    assert project["meetings"][1]["decisions"] == [] and project["needs"][0]["id"] == world["need"].id
    assert client.get(f"{API}/needs/999999", headers=auth(world["member"])).status_code == 404
    other = Need(community_id=world["a1"].id, title="无会议", category="环境", source="visit", status="open")
    db.session.add(other)
    db.session.commit()
    assert client.get(f"{API}/needs/{other.id}", headers=auth(world["member"])).get_json()["meetings"] == []


def test_an_appeal_shows_the_meetings_about_it(client):
    world = appeal_world()
    appeal_id = accepted_appeal(client, world)
    partner = make_partner(world["a1"], "party_branch", "党支部")
    meeting = schedule(client, world["admin_a1"], world["a1"], kind="reception", title="居民接待日",
                       agenda=[{"title": "楼道堆物", "appeal_id": appeal_id}])
    client.post(f"{API}/meetings/{meeting['id']}/minutes", json={
        "summary": "接待居民", "attendance": [{"partner_id": partner.id}],
        "decisions": [{"agenda_index": 0, "text": "物业三日内清理"}]}, headers=auth(world["admin_a1"]))
    for user in (world["admin_a1"], world["resident"]):
        shown = client.get(f"{API}/appeals/{appeal_id}", headers=auth(user)).get_json()
        assert shown["meetings"] == [{"id": meeting["id"], "title": "居民接待日", "starts_at": meeting["starts_at"],
                                      "decisions": [{"id": shown["meetings"][0]["decisions"][0]["id"],
                                                     "text": "物业三日内清理"}]}], user
    # An action answers the appeal as GET shows it: with its meetings.
    resolved = client.post(f"{API}/appeals/{appeal_id}/resolve", json={"reply": "已清理"},
                           headers=auth(world["admin_a1"])).get_json()
    assert resolved["meetings"][0]["id"] == meeting["id"]
    assert "meetings" not in client.get(f"{API}/appeals", headers=auth(world["admin_a1"])).get_json()["items"][0]
    other_community_appeal = Appeal(number="20260101-9999", community_id=world["b1"].id, kind="problem", title="x",
                                    content="x", source="app", status="submitted", member_id=world["resident"].id,
                                    created_by=world["resident"].id, created_at=utcnow(),
                                    response_due_at=utcnow())
    db.session.add(other_community_appeal)
    db.session.commit()
    response = client.post(f"{API}/meetings", json={
        "community_id": world["a1"].id, "kind": "reception", "title": "x", "starts_at": when(1), "place": "x",
        "agenda": [{"title": "x", "appeal_id": other_community_appeal.id}]}, headers=auth(world["admin_a1"]))
    assert response.status_code == 422 and list(details(response)) == ["agenda"]


def test_approving_a_project_may_cite_the_decision_that_chose_it(client, world):
    meeting = held_meeting(client, world)
    decision_id = meeting["decisions"][0]["id"]
    headers = auth(world["admin_a1"])
    path = f"{API}/projects/{world['project'].id}/approve"
    response = client.post(path, json={"decision_id": 999_999}, headers=headers)
    assert response.status_code == 422 and list(details(response)) == ["decision_id"]
    # A decision of a meeting with neither the project nor its needs on its agenda.
    unrelated = schedule(client, world["admin_a1"], world["a1"], agenda=[{"title": "别的事"}])
    unrelated = record(client, world["admin_a1"], unrelated["id"], {"summary": "纪要", "decisions": [
        {"text": "别的决定", "agenda_index": 0}]}).get_json()
    response = client.post(path, json={"decision_id": unrelated["decisions"][0]["id"]}, headers=headers)
    assert response.status_code == 422 and list(details(response)) == ["decision_id"]
    # A decision naming nothing answers 422 before another community's project answers 404.
    other = Project(community_id=world["b1"].id, title="b1 项目", status="proposed", needs=[
        Need(community_id=world["b1"].id, title="b1", category="x", source="visit", status="open")])
    db.session.add(other)
    db.session.commit()
    assert client.post(f"{API}/projects/{other.id}/approve", json={"decision_id": 999_999},
                       headers=headers).status_code == 422
    response = client.post(f"{API}/projects/{other.id}/approve", json={"decision_id": decision_id}, headers=headers)
    assert response.status_code == 404
    response = client.post(path, json={"decision_id": decision_id}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "approved" and response.get_json()["decision_id"] == decision_id
    assert client.get(f"{API}/projects/{world['project'].id}", headers=headers).get_json()["decision_id"] == decision_id
    assert db.session.get(Need, world["need"].id).status == "matched"


def test_approving_a_project_without_a_body_is_as_before(client, world):
    response = client.post(f"{API}/projects/{world['project'].id}/approve", headers=auth(world["admin_a1"]))
    assert response.status_code == 200 and response.get_json()["decision_id"] is None
    again = client.post(f"{API}/projects/{world['project'].id}/approve", json={}, headers=auth(world["admin_a1"]))
    assert again.status_code == 409


def test_a_decision_of_a_meeting_about_the_projects_need_is_citable_too(client, world):
    meeting = schedule(client, world["admin_a1"], world["a1"], agenda=[{"title": "需求", "need_id": world["need"].id}])
    held = record(client, world["admin_a1"], meeting["id"], {"summary": "纪要", "decisions": [
        {"text": "立项", "agenda_index": 0}]}).get_json()
    response = client.post(f"{API}/projects/{world['project'].id}/approve",
                           json={"decision_id": held["decisions"][0]["id"]}, headers=auth(world["admin_a1"]))
    assert response.status_code == 200
    member = make_member()
    assert client.get(f"{API}/meetings/{meeting['id']}", headers=auth(member)).get_json()["decisions"] == [
        {"text": "立项", "votes": None}]


def test_a_partner_removed_after_the_minutes_may_stay_in_a_correction_but_not_in_new_minutes(client, world):
    meeting = held_meeting(client, world)
    headers = auth(world["admin_a1"])
    # The property company owns a task; the party branch attended.
    for partner in (world["partners"][2], world["partners"][0]):
        assert client.delete(f"{API}/partners/{partner.id}", headers=headers).status_code == 204
    response = correct(client, world["admin_a1"], meeting["id"], minutes_body(world, reason="补记"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["decisions"][0]["tasks"][0]["owner_name"] == "安居物业公司"
    other = schedule(client, world["admin_a1"], world["a1"])
    body = {"summary": "纪要", "attendance": [{"partner_id": world["partners"][0].id}]}
    response = record(client, world["admin_a1"], other["id"], body)
    assert response.status_code == 422 and list(details(response)) == ["attendance"]
