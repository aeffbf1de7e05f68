"""Duty posts (岗位), their weekly shift templates and their voluntary roster pools.

Staff of a post's community (or above) create posts and templates; anybody signed in may read them. A member joins
and leaves a pool only by themselves: nobody is put in a pool by anyone else.
"""

from sqlalchemy import select

from clock import parse_clock
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from models import PoolMembership, Post, ShiftTemplate, User
from services import rosters
from services.accounts import SHOWN_NAME
from services.authz import access_in_community, staff_of_community
from services.database import add_unique, where_given

TEMPLATE_FIELDS = ("weekdays", "start", "end", "seats", "skip_holidays", "active")


def _not_found():
    return NotFound("post_not_found", "岗位不存在或不在管辖范围内")


def access_post(actor, post_id, *, for_write, as_staff=None):
    """A post: anyone signed in sees it; its community's staff (or above) manage it, locked when writing."""
    return access_in_community(actor, Post, post_id, _not_found(), for_write=for_write, as_staff=as_staff)


def create_post(actor, *, community_id, name, kind, location=None):
    staff_of_community(actor, community_id)
    location = location or {}
    post = Post(community_id=community_id, name=name, kind=kind, address=location.get("address"),
                lat=location.get("lat"), lng=location.get("lng"), radius_m=location.get("radius_m"),
                created_by=actor.id)
    db.session.add(post)
    db.session.flush()
    return post


def list_posts(*, community_id=None, kind=None):
    return where_given(select(Post).order_by(Post.id), (Post.community_id, community_id), (Post.kind, kind))


def _check_template(values):
    """Times are local ``HH:MM``; an end at or before the start ends the next day (22:00–02:00 is 4 hours)."""
    errors = {field: ["时间格式应为 HH:MM"] for field in ("start", "end")
              if field in values and parse_clock(values[field]) is None}
    if "weekdays" in values:
        weekdays = values["weekdays"]
        if not weekdays:
            errors["weekdays"] = ["至少选择一天"]
        elif len(set(weekdays)) != len(weekdays):
            errors["weekdays"] = ["星期不能重复"]
    if errors:
        raise ValidationFailed(errors)


def create_template(actor, post_id, *, weekdays, start, end, seats, skip_holidays=False):
    """A weekly template; its shifts for the coming days are generated (and filled from the pool) at once."""
    post = access_post(actor, post_id, for_write=True)
    _check_template({"weekdays": weekdays, "start": start, "end": end})
    template = ShiftTemplate(post_id=post.id, weekdays=sorted(weekdays), start=start, end=end, seats=seats,
                             skip_holidays=skip_holidays, active=True)
    db.session.add(template)
    db.session.flush()
    rosters.generate_for_posts([post.id])
    return template


def list_templates(actor, post_id):
    post = access_post(actor, post_id, for_write=False)
    return select(ShiftTemplate).where(ShiftTemplate.post_id == post.id).order_by(ShiftTemplate.id)


def _template_of(post, template_id):
    template = db.session.get(ShiftTemplate, template_id)
    if template is None or template.post_id != post.id:
        raise NotFound("template_not_found", "班次模板不存在")
    return template


def get_template(actor, post_id, template_id):
    return _template_of(access_post(actor, post_id, for_write=False), template_id)


def update_template(actor, post_id, template_id, **changes):
    """Edit a template: future shifts nobody is assigned to are regenerated; a new time also moves the coming shifts
    someone holds, and tells the holders (``rosters.move_coming_shifts``); past and started shifts stay."""
    post = access_post(actor, post_id, for_write=True)
    template = _template_of(post, template_id)
    _check_template(changes)
    old_times = (template.start, template.end)
    for field in TEMPLATE_FIELDS:
        if field in changes:
            setattr(template, field, sorted(changes[field]) if field == "weekdays" else changes[field])
    db.session.flush()
    if (template.start, template.end) != old_times:
        rosters.move_coming_shifts(template)
    rosters.drop_future_unassigned_shifts(template)
    rosters.generate_for_posts([post.id])
    return template


def join_pool(actor, post_id):
    """The caller volunteers for the post's roster pool (again → 409 ``already_in_pool``)."""
    post = access_post(actor, post_id, for_write=False)
    membership = PoolMembership(post_id=post.id, member_id=actor.id)
    if not add_unique(membership):
        raise Conflict("already_in_pool", "已在该岗位的排班名单中")
    return membership


def leave_pool(actor, post_id):
    """The caller leaves the pool; shifts already assigned stay until declined."""
    post = access_post(actor, post_id, for_write=False)
    membership = db.session.scalar(select(PoolMembership).where(
        PoolMembership.post_id == post.id, PoolMembership.member_id == actor.id))
    if membership is None:
        raise NotFound("not_in_pool", "不在该岗位的排班名单中")
    db.session.delete(membership)
    db.session.flush()


def list_pool(actor, post_id):
    """The pool, in joining order (staff of the post's community only)."""
    post = access_post(actor, post_id, for_write=False, as_staff=True)
    return select(PoolMembership).where(PoolMembership.post_id == post.id).order_by(PoolMembership.id)


def pool_entries(memberships):
    """One page of a pool with each member's name (one query for the page)."""
    ids = [m.member_id for m in memberships]
    names = dict(db.session.execute(select(User.id, SHOWN_NAME).where(User.id.in_(ids))).all()) if ids else {}
    return [{"post_id": m.post_id, "member_id": m.member_id, "name": names.get(m.member_id),
             "joined_at": m.joined_at} for m in memberships]
