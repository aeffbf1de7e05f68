"""Eligibility and sign-up windows (CONTRACT v1.1: Organisers beyond the community; Precisions: Teams and
organisers): who may sign up, when, and what each activity tells the caller."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from extensions import db
from models import Activity, Signup
from services import checkin_tokens
from tests.activity_factories import PLACE, confirm, make_activity
from tests.factories import auth, error_code, make_member, make_staff, make_unit, region_tree
from tests.team_factories import make_team

T0 = datetime(2030, 4, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, a month before the activity
BODY = {
    "title": "党员先锋岗：疫苗接种引导",
    "category": "health",
    "starts_at": "2030-05-01T09:00:00",
    "ends_at": "2030-05-01T11:00:00",
    "capacity": 1,
    "location": {"address": "社区卫生服务站", "lat": PLACE[0], "lng": PLACE[1], "radius_m": 150},
}


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def scene(clock):
    tree = region_tree()
    return {"tree": tree, "admin": make_staff("community_admin", tree["a1"]), "unit": make_unit(tree["a1"])}


def _create(client, scene, **fields):
    response = client.post("/api/v1/activities", json={**BODY, "community_id": scene["tree"]["a1"].id, **fields},
                           headers=auth(scene["admin"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _sign_up(client, activity_id, member):
    return client.post(f"/api/v1/activities/{activity_id}/signups", headers=auth(member))


def test_political_status_restricts_sign_ups(client, scene):
    body = _create(client, scene, eligibility={"political_status": ["party_member", "probationary_member"]})
    assert body["eligibility"] == {"political_status": ["party_member", "probationary_member"]}
    masses, league = make_member(), make_member(political_status="league_member")
    for member in (masses, league):
        response = _sign_up(client, body["id"], member)
        assert response.status_code == 403 and error_code(response) == "not_eligible"
    assert _sign_up(client, body["id"], make_member(political_status="probationary_member")).status_code == 201
    assert db.session.query(Signup).count() == 1


def test_unit_restricts_sign_ups_to_the_members_unit(client, scene):
    unit = scene["unit"]
    body = _create(client, scene, eligibility={"unit_id": unit.id})
    response = _sign_up(client, body["id"], make_member(unit=make_unit(scene["tree"]["a1"])))
    assert response.status_code == 403 and error_code(response) == "not_eligible"
    response = _sign_up(client, body["id"], make_member())
    assert response.status_code == 403 and error_code(response) == "not_eligible"
    assert _sign_up(client, body["id"], make_member(unit=unit)).status_code == 201


def test_criteria_combine_with_and(client, scene):
    unit = scene["unit"]
    body = _create(client, scene, eligibility={"political_status": ["party_member"], "unit_id": unit.id})
    for member in (make_member(unit=unit), make_member(political_status="party_member")):
        response = _sign_up(client, body["id"], member)
        assert response.status_code == 403 and error_code(response) == "not_eligible"
    assert _sign_up(client, body["id"], make_member(unit=unit, political_status="party_member")).status_code == 201


def test_a_team_criterion_admits_its_active_members_only(client, scene):
    member, waiting, other = make_member(), make_member(), make_member()
    team = make_team(scene["tree"]["a1"], members=[member], pending=[waiting])
    body = _create(client, scene, eligibility={"team_id": team.id})
    assert body["eligibility"] == {"team_id": team.id}
    for refused in (waiting, other):
        response = _sign_up(client, body["id"], refused)
        assert response.status_code == 403 and error_code(response) == "not_eligible"
    assert _sign_up(client, body["id"], member).status_code == 201


def test_a_team_sign_up_skips_members_who_do_not_qualify(client, scene):
    leader, party = (make_member(political_status="party_member") for _ in range(2))
    masses = make_member(political_status="masses")
    team = make_team(scene["tree"]["a1"], leaders=[leader], members=[party, masses])
    body = _create(client, scene, capacity=5, eligibility={"political_status": ["party_member"]})
    answer = client.post(f"/api/v1/activities/{body['id']}/team-signups", headers=auth(leader),
                         json={"team_id": team.id, "member_ids": [party.id, masses.id], "all_or_nothing": True})
    assert answer.status_code == 201
    assert answer.get_json() == {"confirmed": [party.id], "waitlisted": [],
                                 "skipped": [{"member_id": masses.id, "code": "not_eligible"}]}
    assert db.session.query(Signup).filter_by(member_id=masses.id).count() == 0


def test_eligibility_is_validated_field_by_field(client, scene):
    headers = auth(scene["admin"])
    community_id = scene["tree"]["a1"].id
    cases = [
        ({"political_status": ["communist"]}, "eligibility"),
        ({"political_status": []}, "eligibility"),
        ({"team_id": 0}, "eligibility"),
        ({"team_id": "seven"}, "eligibility"),
        ({"unit_id": 2**40}, "eligibility"),
        ({"grade": 3}, "eligibility"),
        ({"unit_id": 999999}, "eligibility.unit_id"),
    ]
    for eligibility, field in cases:
        response = client.post("/api/v1/activities", json={**BODY, "community_id": community_id,
                                                           "eligibility": eligibility}, headers=headers)
        assert response.status_code == 422, eligibility
        assert field in response.get_json()["error"]["details"], (eligibility, response.get_json())
    assert db.session.query(Activity).count() == 0


def test_editing_replaces_or_clears_the_criteria(client, scene):
    body = _create(client, scene, eligibility={"political_status": ["party_member"]})
    headers = auth(scene["admin"])
    changed = client.patch(f"/api/v1/activities/{body['id']}", json={"eligibility": {"unit_id": scene["unit"].id}},
                           headers=headers)
    assert changed.status_code == 200 and changed.get_json()["eligibility"] == {"unit_id": scene["unit"].id}
    response = client.patch(f"/api/v1/activities/{body['id']}", json={"eligibility": {"unit_id": 999999}},
                            headers=headers)
    assert response.status_code == 422 and "eligibility.unit_id" in response.get_json()["error"]["details"]
    cleared = client.patch(f"/api/v1/activities/{body['id']}", json={"eligibility": None}, headers=headers)
    assert cleared.get_json()["eligibility"] is None
    assert _sign_up(client, body["id"], make_member()).status_code == 201


def test_check_in_without_sign_up_asks_eligibility(client, scene, clock):
    body = _create(client, scene, requires_signup=False, eligibility={"political_status": ["party_member"]})
    activity = db.session.get(Activity, body["id"])
    open_one = make_activity(scene["tree"]["a1"], starts_at=activity.starts_at, requires_signup=False)
    clock.move_to(activity.starts_at)
    where = {"lat": PLACE[0], "lng": PLACE[1]}

    def scan(member, place):
        token = checkin_tokens.activity_token(place)[0]
        return client.post("/api/v1/checkins", json={"token": token, **where}, headers=auth(member))

    masses, party_member = make_member(), make_member(political_status="party_member")
    response = scan(masses, activity)
    assert response.status_code == 403 and error_code(response) == "not_eligible"
    assert scan(party_member, activity).status_code == 201
    # An activity restricting nobody still checks in anyone without sign-up.
    assert scan(masses, open_one).status_code == 201


def test_check_in_at_an_activity_with_sign_up_needs_the_confirmed_seat_as_before(client, scene, clock):
    body = _create(client, scene, eligibility={"political_status": ["party_member"]})
    activity = db.session.get(Activity, body["id"])
    member = make_member(political_status="party_member")
    confirm(activity, member)
    clock.move_to(activity.starts_at)
    token = checkin_tokens.activity_token(activity)[0]
    response = client.post("/api/v1/checkins", json={"token": token, "lat": PLACE[0], "lng": PLACE[1]},
                           headers=auth(member))
    assert response.status_code == 201


def test_outside_the_window_sign_ups_are_refused_with_its_times(client, scene, clock):
    body = _create(client, scene, signup_opens_at="2030-04-10T08:00:00", signup_closes_at="2030-04-30T20:00:00")
    assert body["signup_opens_at"] == "2030-04-10T08:00:00+08:00"
    assert body["signup_closes_at"] == "2030-04-30T20:00:00+08:00"
    window = {"opens_at": "2030-04-10T08:00:00+08:00", "closes_at": "2030-04-30T20:00:00+08:00"}
    member = make_member()
    response = _sign_up(client, body["id"], member)
    assert response.status_code == 409 and error_code(response) == "signup_closed"
    assert response.get_json()["error"]["details"] == window
    clock.move_to(datetime(2030, 4, 10, 0, 0, tzinfo=UTC))  # 08:00 local: open from that instant
    assert _sign_up(client, body["id"], member).status_code == 201
    waiting = make_member()
    assert _sign_up(client, body["id"], waiting).get_json()["status"] == "waitlisted"
    clock.move_to(datetime(2030, 4, 30, 12, 0, tzinfo=UTC))  # 20:00 local: closed from that instant
    response = _sign_up(client, body["id"], make_member())
    assert response.status_code == 409 and error_code(response) == "signup_closed"
    assert response.get_json()["error"]["details"] == window
    # Withdrawals and promotions go on after the window closes.
    assert client.delete(f"/api/v1/activities/{body['id']}/signups/me", headers=auth(member)).status_code == 204
    db.session.expire_all()
    assert db.session.query(Signup).filter_by(member_id=waiting.id).one().status == "confirmed"


def test_a_window_bound_on_one_side_shows_null_for_the_other(client, scene):
    body = _create(client, scene, signup_opens_at="2030-04-20T08:00:00")
    response = _sign_up(client, body["id"], make_member())
    assert response.status_code == 409
    assert response.get_json()["error"]["details"] == {"opens_at": "2030-04-20T08:00:00+08:00", "closes_at": None}


def test_not_eligible_comes_before_signup_closed(client, scene):
    body = _create(client, scene, signup_opens_at="2030-04-20T08:00:00",
                   eligibility={"political_status": ["party_member"]})
    response = _sign_up(client, body["id"], make_member())
    assert response.status_code == 403 and error_code(response) == "not_eligible"


def test_the_window_must_open_before_it_closes_and_close_by_the_end(client, scene):
    headers = auth(scene["admin"])
    community_id = scene["tree"]["a1"].id
    cases = [
        ({"signup_opens_at": "2030-04-20T08:00:00", "signup_closes_at": "2030-04-20T08:00:00"}, "signup_closes_at"),
        ({"signup_opens_at": "2030-04-21T08:00:00", "signup_closes_at": "2030-04-20T08:00:00"}, "signup_closes_at"),
        ({"signup_closes_at": "2030-05-01T11:00:01"}, "signup_closes_at"),
        ({"signup_opens_at": "2030-05-01T11:00:00"}, "signup_opens_at"),
        ({"signup_opens_at": "soon"}, "signup_opens_at"),
    ]
    for window, field in cases:
        response = client.post("/api/v1/activities", json={**BODY, "community_id": community_id, **window},
                               headers=headers)
        assert response.status_code == 422, window
        assert list(response.get_json()["error"]["details"]) == [field], response.get_json()
    # The end itself is a valid close, and an edit is checked against the stored times.
    body = _create(client, scene, signup_closes_at="2030-05-01T11:00:00")
    response = client.patch(f"/api/v1/activities/{body['id']}", json={"ends_at": "2030-05-01T10:00:00"},
                            headers=headers)
    assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["signup_closes_at"]
    response = client.patch(f"/api/v1/activities/{body['id']}", json={"signup_opens_at": "2030-05-01T11:00:00"},
                            headers=headers)
    assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["signup_closes_at"]
    response = client.patch(f"/api/v1/activities/{body['id']}", json={"signup_closes_at": None,
                                                                       "signup_opens_at": "2030-04-02T08:00:00"},
                            headers=headers)
    assert response.status_code == 200
    assert response.get_json()["signup_closes_at"] is None
    assert response.get_json()["cannot_reason"] == "signup_closed"


def test_each_activity_tells_the_caller_whether_it_may_sign_up(client, scene, clock):
    tree, unit = scene["tree"], scene["unit"]
    party_only = _create(client, scene, title="党员", eligibility={"political_status": ["party_member"]})
    later = _create(client, scene, title="稍后报名", signup_opens_at="2030-04-20T08:00:00")
    open_one = _create(client, scene, title="开放")
    mine = _create(client, scene, title="已报名")
    cancelled = _create(client, scene, title="已取消")
    over = make_activity(tree["a1"], starts_at=T0 - timedelta(hours=3))
    member = make_member(unit=unit)
    assert _sign_up(client, mine["id"], member).status_code == 201
    admin = auth(scene["admin"])
    assert client.post(f"/api/v1/activities/{cancelled['id']}/cancel", headers=admin).status_code == 200
    listed = client.get("/api/v1/activities?per_page=100", headers=auth(member)).get_json()["items"]
    answers = {a["id"]: (a["can_sign_up"], a["cannot_reason"]) for a in listed}
    assert answers == {
        party_only["id"]: (False, "not_eligible"),
        later["id"]: (False, "signup_closed"),
        open_one["id"]: (True, None),
        mine["id"]: (False, "already_signed_up"),
        cancelled["id"]: (False, "invalid_state"),
        over.id: (False, "activity_ended"),
    }
    # The detail says the same, and what it says is what the sign-up answers.
    for activity_id, (can, reason) in answers.items():
        shown = client.get(f"/api/v1/activities/{activity_id}", headers=auth(member)).get_json()
        assert (shown["can_sign_up"], shown["cannot_reason"]) == (can, reason)
        if activity_id != mine["id"]:
            response = _sign_up(client, activity_id, member)
            assert (response.status_code == 201) == can
            assert (None if can else error_code(response)) == reason
    # Another caller gets its own answer.
    party_member = make_member(political_status="party_member")
    shown = client.get(f"/api/v1/activities/{party_only['id']}", headers=auth(party_member)).get_json()
    assert (shown["can_sign_up"], shown["cannot_reason"]) == (True, None)
