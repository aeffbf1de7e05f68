"""Volunteer teams: a community's 老党员先锋队 (join by approval) and 在职党员心愿认领队 (open), a unit's team, their
leaders and members, a request still waiting, a team sign-up for a coming activity and a team's wish claim; made
through the services, as the console and the mini-program would make them."""

from datetime import timedelta

from clock import local_today, utcnow
from extensions import db
from models import Wish
from services import teams, wishes
from services.authz import Actor


def seed(ctx):
    community, admin = ctx["communities"][0], ctx["community_admins"][0]
    members, unit, unit_admin = ctx["members"], ctx["units"][0], ctx["unit_admins"][0]
    staff, as_member = Actor(admin.id), {m.id: Actor(m.id) for m in members}

    vanguard = teams.create_team(staff, owner_type="community", owner_id=community.id, name="老党员先锋队",
                                 description="退休老党员组成，常年开展楼门巡查、邻里调解和政策宣讲。",
                                 join_policy="approval")
    for member in members[1:7]:
        teams.join(as_member[member.id], vanguard.id)
    for member in members[1:3]:
        teams.approve_member(staff, vanguard.id, member.id)
    teams.set_leaders(staff, vanguard.id, [members[1].id, members[2].id])
    for member in members[3:7]:
        teams.approve_member(as_member[members[1].id], vanguard.id, member.id)
    teams.join(as_member[members[7].id], vanguard.id)  # still waiting for a leader

    claimers = teams.create_team(staff, owner_type="community", owner_id=community.id, name="在职党员心愿认领队",
                                 description="到社区报到的在职党员认领、办结居民微心愿。", join_policy="open")
    for member in members[8:13]:
        teams.join(as_member[member.id], claimers.id)
    teams.set_leaders(staff, claimers.id, [members[8].id])

    of_unit = teams.create_team(Actor(unit_admin.id), owner_type="unit", owner_id=unit.id,
                                name=f"{unit.name}志愿服务队", join_policy="open")
    for member in members[13:16]:
        teams.join(as_member[member.id], of_unit.id)
    teams.set_leaders(Actor(unit_admin.id), of_unit.id, [members[13].id])

    # The vanguard's leader signs its members up for the community's biggest coming activity.
    coming = max((a for a in ctx["activities"] if a.community_id == community.id and a.status == "published"
                  and a.starts_at > utcnow() + timedelta(days=1)), key=lambda a: a.capacity)
    signed = teams.team_sign_up(as_member[members[1].id], coming.id, team_id=vanguard.id,
                                member_ids=[m.id for m in members[1:7]])

    wish = Wish(community_id=community.id, title="为困难家庭修缮漏雨门窗", beneficiary="和平里6号楼困难家庭",
                description="雨季将至，门窗漏雨，需要几位会木工的志愿者。", deadline=local_today() + timedelta(days=10),
                status="open", created_by=admin.id)
    db.session.add(wish)
    db.session.flush()
    wishes.claim(as_member[members[8].id], wish.id, team_id=claimers.id)

    ctx["teams"] = [vanguard, claimers, of_unit]
    return {"teams": 3, "team_members": 6 + 1 + 5 + 3, "team_signups": len(signed["confirmed"]) + len(
        signed["waitlisted"]), "team_claims": 1}
