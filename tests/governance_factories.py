"""Factories for the co-governance tests: a community (a1 of ``region_tree``) with its five partners and a unit
partner, staff of every kind, and meetings made and held through the API."""

from datetime import timedelta

from clock import local_today, utcnow
from extensions import db
from models import Need, Partner, Project
from tests.factories import auth, make_member, make_staff, make_unit, region_tree

API = "/api/v1"
FIVE = (("party_branch", "和平里社区党支部"), ("residents_committee", "和平里社区居委会"),
        ("property_company", "安居物业公司"), ("owners_committee", "和平里业主委员会"),
        ("social_org", "和平社工事务所"))


def make_partner(community, role="other", name=None, unit=None, department=None, phone="010-64001234"):
    partner = Partner(community_id=community.id, role=role, name=name or f"{role}共建方", contact_name="联络人",
                      contact_phone=phone, unit_id=unit.id if unit else None,
                      department_id=department.id if department else None)
    db.session.add(partner)
    db.session.commit()
    return partner


def governance_world():
    tree = region_tree()
    unit = make_unit(tree["a1"], "示范区人民医院")
    world = {
        **tree,
        "unit": unit,
        "admin_a1": make_staff("community_admin", tree["a1"]),
        "admin_b1": make_staff("community_admin", tree["b1"]),
        "street_admin": make_staff("street_admin", tree["street_a"]),
        "district_admin": make_staff("district_admin", tree["district"]),
        "unit_admin": make_staff("unit_admin", unit),
        "other_unit_admin": make_staff("unit_admin", make_unit(tree["a1"])),
        "member": make_member("居民甲"),
        "attendee": make_member("居民代表王阿姨"),
    }
    world["partners"] = [make_partner(tree["a1"], role, name) for role, name in FIVE]
    world["unit_partner"] = make_partner(tree["a1"], "unit", "示范区人民医院党支部", unit=unit, phone="13800001234")
    world["b1_partner"] = make_partner(tree["b1"], "party_branch", "b1社区党支部")
    need = Need(community_id=tree["a1"].id, title="老旧小区加装电梯", category="养老", source="meeting", status="open")
    db.session.add(need)
    db.session.flush()
    project = Project(community_id=tree["a1"].id, title="3号楼加装电梯", status="proposed", needs=[need])
    db.session.add(project)
    db.session.commit()
    world["need"], world["project"] = need, project
    return world


def when(days=0, hour=15):
    """A local time ``days`` from today, at ``hour``:00, as a request writes it (no offset)."""
    return f"{(local_today() + timedelta(days=days)).isoformat()}T{hour:02d}:00:00"


def schedule(client, staff, community, **fields):
    body = {"community_id": community.id, "kind": "joint", "title": "五方联席会", "starts_at": when(-1),
            "place": "社区党群服务中心", "partner_ids": [], "agenda": [], **fields}
    response = client.post(f"{API}/meetings", json=body, headers=auth(staff))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def minutes_body(world, **fields):
    """Minutes with attendance of every kind and a decision on agenda item 0 with a vote and two tasks."""
    partners = world["partners"]
    today = local_today()
    return {
        "summary": "会议讨论了3号楼加装电梯方案，与会各方同意推进。",
        "attendance": [{"partner_id": partners[0].id}, {"partner_id": world["unit_partner"].id},
                       {"member_id": world["attendee"].id}, {"name": "楼门长李师傅"}],
        "decisions": [{"agenda_index": 0, "text": "同意3号楼加装电梯方案", "votes": {"for": 18, "against": 0,
                                                                                 "abstain": 1},
                       "tasks": [{"title": "物业公司出具施工方案", "owner_partner_id": partners[2].id,
                                  "due_date": (today + timedelta(days=14)).isoformat()},
                                 {"title": "医院党支部组织志愿者入户宣传", "owner_partner_id": world["unit_partner"].id,
                                  "due_date": (today + timedelta(days=7)).isoformat()}]},
                      {"text": "下次会议听取施工方案"}],
        **fields,
    }


def held_meeting(client, world, **fields):
    """A joint meeting with the need and the project on its agenda, held with ``minutes_body``."""
    meeting = schedule(client, world["admin_a1"], world["a1"], partner_ids=[p.id for p in world["partners"]],
                       agenda=[{"title": "加装电梯", "need_id": world["need"].id, "project_id": world["project"].id},
                               {"title": "其他事项"}], **fields)
    response = client.post(f"{API}/meetings/{meeting['id']}/minutes", json=minutes_body(world),
                           headers=auth(world["admin_a1"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def utc_days_ago(days):
    return utcnow() - timedelta(days=days)
