"""The need list (需求清单): what residents need, recorded by community staff with where it came from.

A need is ``open`` until a project that lists it is approved (``matched``) and then done (``met``); the project
moves it (services/projects.py).
"""

from sqlalchemy import select

from extensions import db
from models import Need
from models.need import NeedStatus
from services.authz import staff_of_community
from services.database import where_given


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
