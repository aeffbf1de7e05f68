"""Appeals (居民诉求) as the contract writes them: filing by members and by staff, every transition and its 409s,
conversion, escalation and the department's answer, the rating, and who sees what."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clock import local_today
from extensions import db
from models import Appeal, AppealEvent, Need, Notification, Project, Wish
from tests.appeal_factories import (
    RESIDENT_PHONE,
    accepted_appeal,
    act,
    appeal_world,
    escalated_appeal,
    file_for_resident,
    get,
    new_appeal,
    resolved_appeal,
    submit,
)
from tests.factories import auth, error_code, make_grants, make_staff


@pytest.fixture
def world():
    return appeal_world()


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# Filing.

def test_a_member_raises_an_appeal_for_any_community(client, world):
    response = submit(client, world["resident"], world["b2"], location={"address": "3号楼", "lat": 39.9, "lng": 116.4})

    assert response.status_code == 201, response.get_json()
    appeal = response.get_json()
    assert appeal["status"] == "submitted" and appeal["source"] == "app" and appeal["kind"] == "problem"
    assert re.fullmatch(rf"{local_today():%Y%m%d}-0001", appeal["number"])
    assert appeal["resident"] == {"member_id": world["resident"].id, "name": "张秀英", "phone_masked": "138****5678"}
    assert appeal["location"] == {"address": "3号楼", "lat": 39.9, "lng": 116.4}
    assert appeal["photos"] == [] and appeal["linked"] == [] and appeal["escalation"] is None
    assert appeal["late_for_response"] is False and appeal["overdue"] is False and appeal["due_date"] is None
    assert [step["action"] for step in appeal["timeline"]] == ["submitted"]
    assert appeal["moderation"] is None and appeal["rating"] is None


def test_numbers_follow_each_other_within_a_day(client, world):
    numbers = [submit(client, world["resident"], world["a1"]).get_json()["number"] for _ in range(3)]
    assert [n[-4:] for n in numbers] == ["0001", "0002", "0003"]
    assert len({n[:8] for n in numbers}) == 1


def test_the_communitys_own_staff_are_told_of_a_new_appeal(client, world):
    appeal_id = new_appeal(client, world)
    told = db.session.scalars(select(Notification.member_id).where(Notification.kind == "appeal_submitted")).all()
    assert told == [world["admin_a1"].id]
    assert db.session.scalar(select(Notification.ref).where(Notification.kind == "appeal_submitted")) == \
        f"appeal:{appeal_id}"


def test_staff_file_a_hotline_appeal_with_its_work_order(client, world):
    response = file_for_resident(client, world["admin_a1"], world["a1"], work_order_no="  GD-001  ")

    assert response.status_code == 201, response.get_json()
    appeal = response.get_json()
    assert appeal["source"] == "hotline" and appeal["work_order_no"] == "GD-001"
    assert appeal["resident"] == {"member_id": None, "name": "王大爷", "phone_masked": "010****5678"}
    again = file_for_resident(client, world["street_admin"], world["a1"], work_order_no="GD-001")
    assert again.status_code == 409 and error_code(again) == "duplicate_work_order"
    # Unique per community: another community may have the same work order number.
    assert file_for_resident(client, world["admin_a2"], world["a2"], work_order_no="GD-001").status_code == 201
    assert count(Appeal) == 2


@pytest.mark.parametrize("source", ["reception", "visit", "meeting"])
def test_other_staff_sources_take_no_work_order(client, world, source):
    refused = file_for_resident(client, world["admin_a1"], world["a1"], source=source, work_order_no="GD-2")
    assert refused.status_code == 422 and "work_order_no" in refused.get_json()["error"]["details"]
    response = file_for_resident(client, world["admin_a1"], world["a1"], source=source)
    assert response.status_code == 201 and response.get_json()["source"] == source


def test_a_staff_filing_may_name_the_member_it_is_for(client, world):
    response = file_for_resident(client, world["admin_a1"], world["a1"], source="visit",
                                 member_id=world["resident"].id)
    assert response.status_code == 201
    mine = client.get("/api/v1/me/appeals", headers=auth(world["resident"])).get_json()
    assert [a["id"] for a in mine["items"]] == [response.get_json()["id"]]
    staff_account = file_for_resident(client, world["admin_a1"], world["a1"], source="visit",
                                      member_id=world["street_admin"].id)
    assert staff_account.status_code == 422 and "member_id" in staff_account.get_json()["error"]["details"]


def test_who_may_file_with_a_source(client, world):
    as_member = file_for_resident(client, world["resident"], world["a1"])
    as_unit = file_for_resident(client, world["unit_admin"], world["a1"])
    as_department = file_for_resident(client, world["department_admin"], world["a1"])
    other_community = file_for_resident(client, world["admin_b1"], world["a1"])
    staff_without_source = submit(client, world["admin_a1"], world["a1"])

    assert [r.status_code for r in (as_member, as_unit, as_department)] == [403, 403, 403]
    assert {error_code(r) for r in (as_member, as_unit, as_department)} == {"community_staff_only"}
    assert other_community.status_code == 404 and error_code(other_community) == "region_not_found"
    assert staff_without_source.status_code == 403 and error_code(staff_without_source) == "members_only"
    assert count(Appeal) == 0


BAD_FIELDS = [
    ("kind", {"kind": "gossip"}),
    ("title", {"title": ""}),
    ("title", {"title": "   "}),
    ("title", {"title": "长" * 101}),
    ("content", {"content": "长" * 5001}),
    ("content", {"content": None}),
    ("community_id", {"community_id": "a1"}),
    ("location", {"location": {"lat": 91, "lng": 116.4}}),
    ("location", {"location": {"lat": 39.9, "lng": 181}}),
    ("location", {"location": {"lat": 39.9}}),
    ("anonymous", {"anonymous": "sometimes"}),
    ("photo_ids", {"photo_ids": list(range(1, 11))}),
    ("photo_ids", {"photo_ids": [999_999]}),
    ("resident_name", {"resident_name": "张三"}),
    ("work_order_no", {"work_order_no": "GD-1"}),
    ("unknown", {"unknown": 1}),
]


@pytest.mark.parametrize(("field", "change"), BAD_FIELDS)
def test_a_bad_field_is_422_naming_it_and_nothing_is_stored(client, world, field, change):
    response = submit(client, world["resident"], world["a1"], **change)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["details"], response.get_json()
    assert count(Appeal) == 0 and count(AppealEvent) == 0


def test_a_community_id_naming_a_street_is_422(client, world):
    response = submit(client, world["resident"], world["street_a"])
    assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["community_id"]


@pytest.mark.parametrize(("field", "change"), [
    ("resident_name", {"resident_name": None}),
    ("resident_name", {"resident_name": " "}),
    ("resident_phone", {"resident_phone": "12345"}),
    ("resident_phone", {"resident_phone": "1381234567a"}),
    ("work_order_no", {"work_order_no": None}),
    ("work_order_no", {"work_order_no": "   "}),
    ("source", {"source": "app"}),
    ("member_id", {"member_id": 999_999}),
])
def test_a_bad_staff_filing_is_422_naming_the_field(client, world, field, change):
    response = file_for_resident(client, world["admin_a1"], world["a1"], **change)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["details"]
    assert count(Appeal) == 0


def test_a_landline_or_a_mobile_is_a_residents_phone(client, world):
    for phone, masked in (("13900001111", "139****1111"), ("01062345678", "010****5678")):
        response = file_for_resident(client, world["admin_a1"], world["a1"], source="visit", resident_phone=phone)
        assert response.status_code == 201 and response.get_json()["resident"]["phone_masked"] == masked


# Transitions.

def _status(client, world, appeal_id):
    return get(client, world["admin_a1"], appeal_id).get_json()["status"]


def test_accept_then_resolve_then_rate_closes_it(client, world):
    appeal_id = new_appeal(client, world)
    accepted = act(client, world["admin_a1"], appeal_id, "accept")
    assert accepted.status_code == 200
    assert accepted.get_json()["status"] == "accepted"
    assert accepted.get_json()["due_date"] == (local_today() + timedelta(days=7)).isoformat()
    assert act(client, world["admin_a1"], appeal_id, "accept").status_code == 409
    resolved = act(client, world["admin_a1"], appeal_id, "resolve", {"reply": "已协调物业清理"})
    assert resolved.status_code == 200 and resolved.get_json()["reply"] == "已协调物业清理"
    rated = act(client, world["resident"], appeal_id, "rate", {"score": 5, "comment": "很及时"})
    assert rated.status_code == 200
    body = rated.get_json()
    assert body["status"] == "closed" and body["rating"]["score"] == 5 and body["closed_at"] is not None
    assert [s["action"] for s in body["timeline"]] == ["submitted", "accepted", "resolved", "rated", "closed"]
    again = act(client, world["resident"], appeal_id, "rate", {"score": 1})
    assert again.status_code == 409 and error_code(again) == "already_rated"
    assert db.session.get(Appeal, appeal_id).rating_score == 5
    kinds = set(db.session.scalars(select(Notification.kind).where(Notification.member_id == world["resident"].id)))
    assert {"appeal_accepted", "appeal_resolved"} <= kinds


@pytest.mark.parametrize(("state", "action", "body"), [
    ("submitted", "resolve", {"reply": "好"}),
    ("submitted", "escalate", None),
    ("submitted", "recall", {"reason": "撤回"}),
    ("submitted", "rate", {"score": 4}),
    ("accepted", "accept", None),
    ("accepted", "withdraw", None),
    ("accepted", "recall", {"reason": "撤回"}),
    ("accepted", "rate", {"score": 4}),
    ("escalated", "resolve", {"reply": "好"}),
    ("escalated", "reject", {"reason": "不归我们"}),
    ("escalated", "convert", {"to": "need", "category": "环境"}),
    ("escalated", "escalate", None),
    ("escalated", "accept", None),
    ("resolved", "reject", {"reason": "不归我们"}),
    ("resolved", "resolve", {"reply": "好"}),
    ("resolved", "escalate", None),
    ("resolved", "convert", {"to": "need", "category": "环境"}),
    ("rejected", "accept", None),
    ("rejected", "reject", {"reason": "重复"}),
    ("rejected", "withdraw", None),
    ("withdrawn", "accept", None),
    ("closed", "resolve", {"reply": "好"}),
])
def test_every_wrong_move_is_409_invalid_state(client, world, state, action, body):
    appeal_id = {"submitted": new_appeal, "accepted": accepted_appeal, "escalated": escalated_appeal,
                 "resolved": resolved_appeal}.get(state, new_appeal)(client, world)
    if state == "rejected":
        act(client, world["admin_a1"], appeal_id, "reject", {"reason": "不属于本社区"})
    if state == "withdrawn":
        act(client, world["resident"], appeal_id, "withdraw")
    if state == "closed":
        appeal_id = resolved_appeal(client, world)
        act(client, world["resident"], appeal_id, "rate", {"score": 3})
    if action == "escalate":
        body = {"department_id": world["department"].id, "note": "请协助"}
    before = _status(client, world, appeal_id)
    user = world["resident"] if action in ("withdraw", "rate") else world["admin_a1"]
    response = act(client, user, appeal_id, action, body)
    assert response.status_code == 409 and error_code(response) == "invalid_state", response.get_json()
    assert _status(client, world, appeal_id) == before


def test_reject_from_submitted_or_accepted_with_a_reason(client, world):
    for make in (new_appeal, accepted_appeal):
        appeal_id = make(client, world)
        response = act(client, world["admin_a1"], appeal_id, "reject", {"reason": "不属于社区职责"})
        assert response.status_code == 200
        assert response.get_json()["status"] == "rejected"
        assert response.get_json()["reject_reason"] == "不属于社区职责"
    told = count(Notification, Notification.kind == "appeal_rejected", Notification.member_id == world["resident"].id)
    assert told == 2


def test_a_duplicate_names_another_appeal_of_the_same_community(client, world):
    first = submit(client, world["resident"], world["a1"]).get_json()
    second = new_appeal(client, world)
    elsewhere = submit(client, world["resident"], world["a2"]).get_json()

    for number in ("20000101-0001", elsewhere["number"], "not-a-number"):
        response = act(client, world["admin_a1"], second, "reject", {"reason": "重复", "duplicate_of": number})
        assert response.status_code == 422 and "duplicate_of" in response.get_json()["error"]["details"]
    response = act(client, world["admin_a1"], second, "reject", {"reason": "重复", "duplicate_of": first["number"]})
    assert response.status_code == 200 and response.get_json()["duplicate_of"] == first["number"]


@pytest.mark.parametrize(("action", "field"), [("reject", "reason"), ("resolve", "reply"), ("escalate", "note"),
                                               ("recall", "reason")])
def test_reasons_replies_and_notes_are_required_and_not_blank(client, world, action, field):
    appeal_id = (escalated_appeal if action == "recall" else accepted_appeal)(client, world)
    extra = {"department_id": world["department"].id} if action == "escalate" else {}
    for value in (None, "", "   "):
        body = {**extra, **({field: value} if value is not None else {})}
        response = act(client, world["admin_a1"], appeal_id, action, body)
        assert response.status_code == 422 and field in response.get_json()["error"]["details"], (value, body)


def test_the_resident_withdraws_an_appeal_not_yet_answered(client, world):
    appeal_id = new_appeal(client, world)
    neighbour = act(client, world["neighbour"], appeal_id, "withdraw")
    staff = act(client, world["admin_a1"], appeal_id, "withdraw")
    response = act(client, world["resident"], appeal_id, "withdraw")

    assert neighbour.status_code == 404 and error_code(neighbour) == "appeal_not_found"
    assert staff.status_code == 403
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"


def test_escalation_answer_and_escalating_again(client, world):
    appeal_id = accepted_appeal(client, world)
    told_before = count(Notification, Notification.kind == "appeal_escalated")
    escalated = act(client, world["admin_a1"], appeal_id, "escalate",
                    {"department_id": world["department"].id, "note": "请执法队清理"})
    assert escalated.status_code == 200
    body = escalated.get_json()
    assert body["status"] == "escalated"
    assert body["escalation"]["department_id"] == world["department"].id
    assert body["escalation"]["department_name"] == "甲街道城管执法队"
    assert body["escalation"]["due_date"] == (local_today() + timedelta(days=7)).isoformat()
    assert body["escalation"]["note"] == "请执法队清理" and body["escalation"]["answer"] is None
    assert count(Notification, Notification.kind == "appeal_escalated") == told_before + 1
    assert db.session.scalar(select(Notification.member_id).where(Notification.kind == "appeal_escalated")) == \
        world["department_admin"].id

    wrong = act(client, world["other_department_admin"], appeal_id, "answer", {"reply": "已处理"})
    community = act(client, world["admin_a1"], appeal_id, "answer", {"reply": "已处理"})
    assert wrong.status_code == 404
    assert community.status_code == 403 and error_code(community) == "department_staff_only"
    answered = act(client, world["department_admin"], appeal_id, "answer", {"reply": "已清理完毕"})
    assert answered.status_code == 200
    assert answered.get_json()["status"] == "accepted"
    assert answered.get_json()["escalation"]["answer"] == "已清理完毕"
    assert answered.get_json()["escalation"]["outcome"] == "handled"
    again = act(client, world["department_admin"], appeal_id, "answer", {"reply": "再答一次"})
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    assert count(Notification, Notification.kind == "appeal_answered",
                 Notification.member_id == world["admin_a1"].id) == 1

    # Escalated again, to the district's department: the escalation shows the latest, the timeline all.
    second = act(client, world["admin_a1"], appeal_id, "escalate",
                 {"department_id": world["district_department"].id, "note": "需区住建委协调"})
    assert second.status_code == 200
    assert second.get_json()["escalation"]["department_id"] == world["district_department"].id
    actions = [s["action"] for s in second.get_json()["timeline"]]
    assert actions == ["submitted", "accepted", "escalated", "answered", "escalated"]
    # The first department still sees the appeal it once answered, and may not answer now.
    assert get(client, world["department_admin"], appeal_id).status_code == 200
    assert act(client, world["department_admin"], appeal_id, "answer", {"reply": "x"}).status_code == 409
    not_ours = act(client, world["district_department_admin"], appeal_id, "answer",
                   {"reply": "不属于本部门职责", "outcome": "not_ours"})
    assert not_ours.status_code == 200 and not_ours.get_json()["escalation"]["outcome"] == "not_ours"
    assert act(client, world["admin_a1"], appeal_id, "resolve", {"reply": "已办结"}).status_code == 200


def test_a_department_answer_takes_an_outcome_of_two(client, world):
    appeal_id = escalated_appeal(client, world)
    response = act(client, world["department_admin"], appeal_id, "answer", {"reply": "好", "outcome": "maybe"})
    assert response.status_code == 422 and "outcome" in response.get_json()["error"]["details"]


def test_the_community_recalls_an_escalation(client, world):
    appeal_id = escalated_appeal(client, world)
    response = act(client, world["admin_a1"], appeal_id, "recall", {"reason": "居民已自行解决"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "accepted"
    assert response.get_json()["escalation"]["status"] == "recalled"
    late_answer = act(client, world["department_admin"], appeal_id, "answer", {"reply": "已处理"})
    assert late_answer.status_code == 409


def test_escalating_only_to_the_communitys_street_or_district(client, world):
    appeal_id = accepted_appeal(client, world)
    for department_id in (world["other_department"].id, 999_999):
        response = act(client, world["admin_a1"], appeal_id, "escalate",
                       {"department_id": department_id, "note": "请协助"})
        assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["department_id"]
    district = act(client, world["admin_a1"], appeal_id, "escalate",
                   {"department_id": world["district_department"].id, "note": "请协助"})
    assert district.status_code == 200


def test_an_escalation_due_date_before_today_is_422_and_a_later_one_moves_the_appeals(client, world):
    appeal_id = accepted_appeal(client, world)
    past = act(client, world["admin_a1"], appeal_id, "escalate", {
        "department_id": world["department"].id, "note": "请协助",
        "due_date": (local_today() - timedelta(days=1)).isoformat()})
    assert past.status_code == 422 and "due_date" in past.get_json()["error"]["details"]
    later = (local_today() + timedelta(days=20)).isoformat()
    response = act(client, world["admin_a1"], appeal_id, "escalate",
                   {"department_id": world["department"].id, "note": "请协助", "due_date": later})
    assert response.get_json()["escalation"]["due_date"] == later
    assert response.get_json()["due_date"] == later


def test_an_earlier_escalation_due_date_leaves_the_appeals(client, world):
    appeal_id = accepted_appeal(client, world)
    sooner = (local_today() + timedelta(days=2)).isoformat()
    response = act(client, world["admin_a1"], appeal_id, "escalate",
                   {"department_id": world["department"].id, "note": "请协助", "due_date": sooner})
    assert response.get_json()["escalation"]["due_date"] == sooner
    assert response.get_json()["due_date"] == (local_today() + timedelta(days=7)).isoformat()


def test_ratings(client, world):
    appeal_id = resolved_appeal(client, world)
    for bad in ({"score": 0}, {"score": 6}, {"score": "5"}, {"score": 4.5}, {}, {"score": 3, "comment": "长" * 501}):
        response = act(client, world["resident"], appeal_id, "rate", bad)
        assert response.status_code == 422, bad
    assert act(client, world["admin_a1"], appeal_id, "rate", {"score": 5, "via": "phone"}).status_code == 403
    assert act(client, world["neighbour"], appeal_id, "rate", {"score": 5}).status_code == 404
    assert act(client, world["resident"], appeal_id, "rate", {"score": 2}).status_code == 200


def test_staff_record_the_score_of_a_filing_without_a_member(client, world):
    appeal_id = file_for_resident(client, world["admin_a1"], world["a1"]).get_json()["id"]
    act(client, world["admin_a1"], appeal_id, "accept")
    act(client, world["admin_a1"], appeal_id, "resolve", {"reply": "已回访"})
    missing_via = act(client, world["admin_a1"], appeal_id, "rate", {"score": 4})
    assert missing_via.status_code == 422 and "via" in missing_via.get_json()["error"]["details"]
    response = act(client, world["admin_a1"], appeal_id, "rate", {"score": 4, "via": "phone"})
    assert response.status_code == 200
    assert response.get_json()["rating"]["via"] == "phone" and response.get_json()["status"] == "closed"


# Conversion.

def test_convert_to_a_need_follows_the_appeals_source(client, world):
    appeal_id = accepted_appeal(client, world)
    response = act(client, world["admin_a1"], appeal_id, "convert", {"to": "need", "category": "环境"})
    assert response.status_code == 201, response.get_json()
    need = response.get_json()
    assert need["source"] == "online" and need["appeal_id"] == appeal_id and need["title"] == "楼道堆满快递纸箱"
    appeal = get(client, world["admin_a1"], appeal_id).get_json()
    assert appeal["linked"] == [{"type": "need", "id": need["id"]}] and appeal["status"] == "accepted"
    assert "converted" in [s["action"] for s in appeal["timeline"]]

    hotline = file_for_resident(client, world["admin_a1"], world["a1"]).get_json()["id"]
    act(client, world["admin_a1"], hotline, "accept")
    made = act(client, world["admin_a1"], hotline, "convert", {"to": "need", "category": "环境"}).get_json()
    assert made["source"] == "hotline"


def test_convert_to_a_wish_and_a_project_several_times(client, world):
    appeal_id = accepted_appeal(client, world, anonymous=True)
    wish = act(client, world["admin_a1"], appeal_id, "convert", {"to": "wish", "title": "帮忙搬运纸箱"})
    need = act(client, world["admin_a1"], appeal_id, "convert", {"to": "need", "category": "环境"}).get_json()
    project = act(client, world["admin_a1"], appeal_id, "convert",
                  {"to": "project", "title": "楼道整治", "need_ids": [need["id"]]})

    assert wish.status_code == 201 and project.status_code == 201, (wish.get_json(), project.get_json())
    assert wish.get_json()["status"] == "open" and wish.get_json()["appeal_id"] == appeal_id
    # A wish made from an anonymous appeal never names the resident.
    assert "张秀英" not in json.dumps(wish.get_json(), ensure_ascii=False)
    assert project.get_json()["appeal_id"] == appeal_id and project.get_json()["status"] == "proposed"
    linked = get(client, world["admin_a1"], appeal_id).get_json()["linked"]
    assert [item["type"] for item in linked] == ["wish", "need", "project"]
    assert db.session.get(Wish, wish.get_json()["id"]).community_id == world["a1"].id
    assert db.session.get(Project, project.get_json()["id"]).appeal_id == appeal_id


def test_convert_needs_the_objects_own_fields(client, world):
    appeal_id = accepted_appeal(client, world)
    for body, field in (({"to": "need"}, "category"), ({"to": "project"}, "need_ids"), ({"to": "team"}, "to"),
                        ({"to": "wish", "community_id": world["a2"].id}, "community_id"),
                        ({"to": "project", "need_ids": [999_999]}, "need_ids")):
        response = act(client, world["admin_a1"], appeal_id, "convert", body)
        assert response.status_code == 422 and field in response.get_json()["error"]["details"], body
    assert count(Need) == 0 and count(Project) == 0 and count(Wish) == 0


# Who sees what.

def test_a_member_sees_only_its_own_appeals(client, world):
    appeal_id = new_appeal(client, world)
    assert get(client, world["resident"], appeal_id).status_code == 200
    response = get(client, world["neighbour"], appeal_id)
    assert response.status_code == 404 and error_code(response) == "appeal_not_found"
    assert client.get("/api/v1/me/appeals", headers=auth(world["neighbour"])).get_json()["items"] == []


def test_staff_of_other_communities_get_404_and_unit_admins_403(client, world):
    appeal_id = new_appeal(client, world)
    assert get(client, world["admin_b1"], appeal_id).status_code == 404
    assert get(client, world["admin_a2"], appeal_id).status_code == 404
    assert get(client, world["street_admin"], appeal_id).status_code == 200
    assert get(client, world["district_admin"], appeal_id).status_code == 200
    for user in (world["unit_admin"], world["resident"]):
        response = client.get("/api/v1/appeals", headers=auth(user))
        assert response.status_code == 403 and error_code(response) == "community_staff_only"
    listed = client.get("/api/v1/appeals", headers=auth(world["admin_b1"])).get_json()
    assert listed["items"] == [] and listed["total"] == 0


def test_a_department_sees_only_what_was_escalated_to_it(client, world):
    quiet = accepted_appeal(client, world)
    escalated = escalated_appeal(client, world)
    assert get(client, world["department_admin"], quiet).status_code == 404
    assert get(client, world["other_department_admin"], escalated).status_code == 404
    listed = client.get("/api/v1/appeals", headers=auth(world["department_admin"])).get_json()
    assert [a["id"] for a in listed["items"]] == [escalated]
    other = client.get("/api/v1/appeals", headers=auth(world["other_department_admin"])).get_json()
    assert other["items"] == []
    # Staff actions stay the community's.
    response = act(client, world["department_admin"], escalated, "recall", {"reason": "x"})
    assert response.status_code == 403 and error_code(response) == "community_staff_only"


def test_anonymous_hides_the_resident_but_from_the_resident_and_the_communitys_own_staff(client, world):
    appeal_id = escalated_appeal(client, world, anonymous=True)
    own = get(client, world["admin_a1"], appeal_id).get_json()
    mine = get(client, world["resident"], appeal_id).get_json()
    assert own["resident"]["name"] == "张秀英" and mine["resident"]["member_id"] == world["resident"].id
    for user in ("street_admin", "district_admin", "department_admin"):
        shown = get(client, world[user], appeal_id).get_json()
        assert shown["resident"] is None, user
        assert shown["timeline"][0]["actor_name"] == "匿名居民", user
        assert "张秀英" not in json.dumps(shown, ensure_ascii=False), user
        listed = client.get("/api/v1/appeals", headers=auth(world[user])).get_json()["items"]
        assert listed[0]["resident"] is None, user
    assert own["timeline"][0]["actor_name"] == "张秀英"
    own_list = client.get("/api/v1/appeals", headers=auth(world["admin_a1"])).get_json()["items"]
    assert own_list[0]["resident"]["name"] == "张秀英"


def test_the_resident_sees_its_steps_by_the_communitys_name_and_no_escalation_notes(client, world):
    appeal_id = escalated_appeal(client, world)
    act(client, world["department_admin"], appeal_id, "answer", {"reply": "内部答复"})
    act(client, world["admin_a1"], appeal_id, "resolve", {"reply": "已清理"})
    shown = get(client, world["resident"], appeal_id).get_json()

    assert [s["action"] for s in shown["timeline"]] == ["submitted", "accepted", "resolved"]
    assert {s["actor_name"] for s in shown["timeline"][1:]} == {"a1社区"}
    assert shown["escalation"]["note"] is None and shown["escalation"]["answer"] is None
    assert "内部答复" not in json.dumps(shown, ensure_ascii=False)
    staff_view = get(client, world["admin_a1"], appeal_id).get_json()
    names = {s["action"]: s["actor_name"] for s in staff_view["timeline"]}
    assert names["accepted"] == "和平社区书记" and names["answered"] == "甲街道城管执法队"


def test_no_answer_ever_carries_a_whole_phone(client, world):
    appeal_id = escalated_appeal(client, world)
    hotline = file_for_resident(client, world["admin_a1"], world["a1"], resident_phone="13987654321").get_json()
    for user in ("admin_a1", "street_admin", "department_admin", "resident"):
        answers = [get(client, world[user], appeal_id).get_data(as_text=True),
                   client.get("/api/v1/me/appeals", headers=auth(world[user])).get_data(as_text=True)]
        if user != "resident":
            answers.append(client.get("/api/v1/appeals", headers=auth(world[user])).get_data(as_text=True))
        for text in answers:
            assert RESIDENT_PHONE not in text and "13987654321" not in text, user
    assert hotline["resident"]["phone_masked"] == "139****4321"


def test_actions_answer_the_appeal_as_get_shows_it_to_the_caller(client, world):
    appeal_id = new_appeal(client, world)
    accepted = act(client, world["admin_a1"], appeal_id, "accept").get_json()
    assert accepted == get(client, world["admin_a1"], appeal_id).get_json()


# Lists.

def test_lists_filter_and_sort(client, world):
    first = new_appeal(client, world, kind="suggestion", title="建议增设充电桩")
    second = accepted_appeal(client, world)
    third = escalated_appeal(client, world)
    hotline = file_for_resident(client, world["admin_a1"], world["a1"]).get_json()
    headers = auth(world["admin_a1"])

    def ids(**query):
        response = client.get("/api/v1/appeals", query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        return [a["id"] for a in response.get_json()["items"]]

    assert ids() == [hotline["id"], third, second, first]
    assert ids(status="accepted") == [second]
    assert ids(kind="suggestion") == [first]
    assert ids(source="hotline") == [hotline["id"]]
    assert ids(q="充电桩") == [first]
    assert ids(q=hotline["number"]) == [hotline["id"]]
    assert ids(department_id=world["department"].id) == [third]
    assert ids(community_id=world["a2"].id) == []
    assert ids(overdue="true") == [] and len(ids(overdue="false")) == 4
    assert ids(late="false") == [hotline["id"], third, second, first]
    today = local_today().isoformat()
    assert len(ids(**{"from": today, "to": today})) == 4
    assert ids(**{"from": (local_today() + timedelta(days=1)).isoformat()}) == []
    assert ids(sort="due_date")[-2:] == [hotline["id"], first]
    for bad in ({"status": "open"}, {"sort": "title"}, {"from": "yesterday"}, {"overdue": "maybe"}):
        assert client.get("/api/v1/appeals", query_string=bad, headers=headers).status_code == 422, bad


def test_my_appeals_newest_first_by_status(client, world):
    first = new_appeal(client, world)
    second = accepted_appeal(client, world)
    headers = auth(world["resident"])
    assert [a["id"] for a in client.get("/api/v1/me/appeals", headers=headers).get_json()["items"]] == [second, first]
    only = client.get("/api/v1/me/appeals?status=submitted", headers=headers).get_json()["items"]
    assert [a["id"] for a in only] == [first]
    assert "timeline" not in only[0]


def test_a_staff_account_that_is_also_a_member_files_its_own_appeal(client, world):
    member_staff = make_staff("community_admin", world["a2"])
    member_staff.openid = "staff-who-lives-here"
    db.session.commit()
    response = submit(client, member_staff, world["a1"])
    assert response.status_code == 201 and response.get_json()["source"] == "app"


def test_escalate_and_answer_answer_in_the_contracts_order(client, world):
    own = accepted_appeal(client, world)
    other = file_for_resident(client, world["admin_b1"], world["b1"]).get_json()["id"]
    act(client, world["admin_b1"], other, "accept")
    body = {"department_id": world["department"].id, "note": "请协助"}
    member = act(client, world["resident"], own, "escalate", {"department_id": "x"})
    malformed = act(client, world["admin_a1"], other, "escalate", {"department_id": "x", "note": "请协助"})
    unknown = act(client, world["admin_a1"], other, "escalate", {**body, "department_id": 999_999})
    outside = act(client, world["admin_a1"], other, "escalate", body)
    assert (member.status_code, error_code(member)) == (403, "community_staff_only")
    assert malformed.status_code == 422 and unknown.status_code == 422
    assert outside.status_code == 404
    answer_member = act(client, world["resident"], own, "answer", {"reply": ["x"]})
    answer_malformed = act(client, world["department_admin"], 999_999, "answer", {"reply": ["x"]})
    answer_missing = act(client, world["department_admin"], 999_999, "answer", {"reply": "已处理"})
    assert (answer_member.status_code, error_code(answer_member)) == (403, "department_staff_only")
    assert answer_malformed.status_code == 422 and answer_missing.status_code == 404


def test_the_resident_gets_a_subscribe_message_when_the_appeal_is_resolved(app, client, world, fake_wechat,
                                                                           monkeypatch):
    from models import OutboundMessage
    from services import outbox

    monkeypatch.setitem(app.config, "WECHAT_TEMPLATES", {"appeal_answered": {
        "id": "tmpl-appeal-answered", "page": "pages/appeals/detail", "data": {"thing1": "title", "thing2": "reply"}}})
    make_grants(world["resident"], "tmpl-appeal-answered")
    appeal_id = resolved_appeal(client, world)
    message = db.session.scalar(select(OutboundMessage))
    assert message.member_id == world["resident"].id
    assert message.key == f"appeal_answered:{appeal_id}:{world['resident'].id}"
    assert outbox.deliver_pending() == 1
    sent, = fake_wechat.sent
    assert sent["template_id"] == "tmpl-appeal-answered" and sent["touser"] == world["resident"].openid
    assert sent["data"] == {"thing1": {"value": "楼道堆满快递纸箱"}, "thing2": {"value": "已联系业主清理"}}


def test_no_subscribe_message_without_a_template(client, world):
    from models import OutboundMessage

    resolved_appeal(client, world)
    assert count(OutboundMessage) == 0


def test_a_department_is_read_by_any_staff(client, world):
    response = client.get(f"/api/v1/departments/{world['department'].id}", headers=auth(world["department_admin"]))
    assert response.status_code == 200 and response.get_json()["region_name"] == "甲街道"
    assert client.get("/api/v1/departments/999999", headers=auth(world["admin_a1"])).status_code == 404
    assert client.get(f"/api/v1/departments/{world['department'].id}",
                      headers=auth(world["resident"])).status_code == 403
