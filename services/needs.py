"""The need list (需求清单): what residents need, recorded by community staff with where it came from.

A need is ``open`` until a project that lists it is approved (``matched``) and then done (``met``); the project
moves it (services/projects.py).
"""

from sqlalchemy import select

from errors import NotFound
from extensions import db
from models import Need
from models.need import NeedStatus
from services import meeting_links
from services.authz import access_in_community, staff_of_community
from services.database import as_dict, where_given


def create_need(actor, *, community_id, title, category, source):
    staff_of_community(actor, community_id)
    need = Need(community_id=community_id, title=title, category=category, source=source, status=NeedStatus.OPEN,
                created_by=actor.id)
    db.session.add(need)
    db.session.flush()
    return need


def list_needs(*, community_id=None, status=None, source=None):
    return where_given(select(Need).order_by(Need.id.desc()),
                       (Need.community_id, community_id), (Need.status, status), (Need.source, source))


def access_need(actor, need_id, *, for_write=False):
    """A need: anyone signed in sees it."""
    return access_in_community(actor, Need, need_id, NotFound("need_not_found", "需求不存在或不在管辖范围内"),
                               for_write=for_write)


def present_detail(need):
    """A need with the meetings about it (the agenda items naming it) and their decisions on it."""
    return {**as_dict(need), "meetings": meeting_links.meetings_about("need", [need.id])[need.id]}
