"""Demo certificates: a few issued by each community for members with approved hours there (after the activities
step has put approved service records in place)."""

import click
from sqlalchemy import func, select

from clock import to_local
from extensions import db
from models import RoleAssignment, ServiceRecord, User
from services.authz import Actor
from services.certificates import issue_certificate

PER_COMMUNITY = 2


def _community_admin(community_id, ctx):
    for admin in ctx.get("community_admins", []):
        if any(r.role == "community_admin" and r.scope_id == community_id for r in admin.roles):
            return admin
    return db.session.scalar(select(User).join(RoleAssignment).where(
        RoleAssignment.role == "community_admin", RoleAssignment.scope_id == community_id).limit(1))


def seed(ctx):
    spans = db.session.execute(
        select(ServiceRecord.community_id, ServiceRecord.member_id,
               func.min(ServiceRecord.started_at), func.max(ServiceRecord.started_at))
        .where(ServiceRecord.status == "approved")
        .group_by(ServiceRecord.community_id, ServiceRecord.member_id)
        .order_by(ServiceRecord.community_id, ServiceRecord.member_id)).all()
    issued, per_community = [], {}
    for community_id, member_id, first, last in spans:
        if per_community.get(community_id, 0) >= PER_COMMUNITY:
            continue
        admin = _community_admin(community_id, ctx)
        if admin is None:
            continue
        certificate = issue_certificate(Actor(admin.id), issuer_id=community_id, period_from=to_local(first).date(),
                                        period_to=to_local(last).date(), member_id=member_id)
        issued.append(certificate)
        per_community[community_id] = per_community.get(community_id, 0) + 1
    if not issued:
        click.echo("demo certificates: no approved service hours yet, so none issued")
    ctx["certificates"] = issued
    return {"certificates": len(issued)}
