"""Duty posts (岗位), their weekly shift templates and their voluntary roster pools.

Staff of a post's community (or above) create posts and templates; anybody signed in may read them. A member joins
and leaves a pool only by themselves: nobody is put in a pool by anyone else.
"""

from datetime import time

from sqlalchemy import select

from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from models import PoolMembership, Post, ShiftTemplate, User
from services import rosters
from services.authz import require_community_admin, require_region_staff
from services.database import add_unique
from services.regions import get_community

TEMPLATE_FIELDS = ("weekdays", "start", "end", "seats", "skip_holidays", "active")


def get_post(post_id):
    post = db.session.get(Post, post_id)
    if post is None:
        raise NotFound("post_not_found", "岗位不存在")
    return post


def post_for_staff(actor, post_id):
    """The post, if the actor administers its community (or a region above it); otherwise 403 or 404."""
    require_region_staff(actor)
    post = get_post(post_id)
    try:
        require_community_admin(actor, post.community_id)
    except NotFound:
        raise NotFound("post_not_found", "岗位不存在或不在管辖范围内") from None
    return post


def create_post(actor, community_id, name, kind, location=None):
    require_region_staff(actor)
    get_community(community_id)
    require_community_admin(actor, community_id)
    location = location or {}
    post = Post(community_id=community_id, name=name, kind=kind, address=location.get("address"),
                lat=location.get("lat"), lng=location.get("lng"), radius_m=location.get("radius_m"),
                created_by=actor.id)
    db.session.add(post)
    db.session.commit()
    return post


def list_posts(community_id=None, kind=None):
    query = select(Post).order_by(Post.id)
    if community_id is not None:
        query = query.where(Post.community_id == community_id)
    if kind:
        query = query.where(Post.kind == kind)
    return query


def _check_template(values):
    """Times are local ``HH:MM``; an end at or before the start ends the next day (22:00–02:00 is 4 hours)."""
    errors = {}
    for field in ("start", "end"):
        if field in values and parse_clock(values[field]) is None:
            errors[field] = ["时间格式应为 HH:MM"]
    if "weekdays" in values:
        weekdays = values["weekdays"]
        if not weekdays:
            errors["weekdays"] = ["至少选择一天"]
        elif len(set(weekdays)) != len(weekdays):
            errors["weekdays"] = ["星期不能重复"]
    if errors:
        raise ValidationFailed(errors)


def parse_clock(value):
    try:
        hours, minutes = value.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            return None
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        return None


def create_template(actor, post_id, weekdays, start, end, seats, skip_holidays=False):
    """A weekly template; its shifts for the coming days are generated (and filled from the pool) at once."""
    post = post_for_staff(actor, post_id)
    values = {"weekdays": weekdays, "start": start, "end": end}
    _check_template(values)
    template = ShiftTemplate(post_id=post.id, weekdays=sorted(weekdays), start=start, end=end, seats=seats,
                             skip_holidays=skip_holidays, active=True)
    db.session.add(template)
    db.session.commit()
    rosters.generate_rosters(post_ids=[post.id])
    return template


def list_templates(post_id):
    get_post(post_id)
    return select(ShiftTemplate).where(ShiftTemplate.post_id == post_id).order_by(ShiftTemplate.id)


def get_template(post_id, template_id):
    template = db.session.get(ShiftTemplate, template_id)
    if template is None or template.post_id != post_id:
        raise NotFound("template_not_found", "班次模板不存在")
    return template


def update_template(actor, post_id, template_id, changes):
    """Edit a template: future shifts nobody is assigned to are regenerated; past and assigned shifts stay."""
    post = post_for_staff(actor, post_id)
    template = get_template(post.id, template_id)
    _check_template(changes)
    for field in TEMPLATE_FIELDS:
        if field in changes:
            setattr(template, field, sorted(changes[field]) if field == "weekdays" else changes[field])
    rosters.drop_future_unassigned_shifts(template)
    db.session.commit()
    rosters.generate_rosters(post_ids=[post.id])
    return template


def join_pool(actor, post_id):
    """The caller volunteers for the post's roster pool (again → 409 ``already_in_pool``)."""
    post = get_post(post_id)
    membership = PoolMembership(post_id=post.id, member_id=actor.id)
    if not add_unique(membership):
        raise Conflict("already_in_pool", "已在该岗位的排班名单中")
    db.session.commit()
    return membership


def leave_pool(actor, post_id):
    """The caller leaves the pool; shifts already assigned stay until declined."""
    get_post(post_id)
    membership = db.session.scalar(select(PoolMembership).where(
        PoolMembership.post_id == post_id, PoolMembership.member_id == actor.id))
    if membership is None:
        raise NotFound("not_in_pool", "不在该岗位的排班名单中")
    db.session.delete(membership)
    db.session.commit()


def list_pool(actor, post_id):
    """The pool, in joining order (staff of the post's community only)."""
    post = post_for_staff(actor, post_id)
    return select(PoolMembership).where(PoolMembership.post_id == post.id).order_by(PoolMembership.id)


def pool_entries(memberships):
    """One page of a pool with each member's name (one query for the page)."""
    ids = [m.member_id for m in memberships]
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
    return [{"member_id": m.member_id, "name": names.get(m.member_id), "joined_at": m.joined_at}
            for m in memberships]


def is_in_pool(post_id, member_id):
    return db.session.scalar(select(PoolMembership.id).where(
        PoolMembership.post_id == post_id, PoolMembership.member_id == member_id)) is not None
