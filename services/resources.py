"""The resource list (资源清单): venues, people, services and funds that communities and units offer."""

from sqlalchemy import select

from extensions import db
from models import Resource, Unit
from models.resource import ResourceStatus
from services.authz import access_unit, require_staff, row_field, staff_of_community
from services.database import where_given


def create_resource(actor, *, owner_type, owner_id, title, kind, detail=None):
    """A community's staff offer its resources; a unit's admin (or region staff above it) offer the unit's, which
    then serve in the unit's community."""
    if owner_type == "community":
        community_id = staff_of_community(actor, owner_id, field="owner_id").id
    else:
        require_staff(actor)
        row_field(Unit, owner_id, "owner_id", "单位不存在")
        community_id = access_unit(actor, owner_id, for_write=True).community_id
    resource = Resource(owner_type=owner_type, owner_id=owner_id, community_id=community_id, title=title, kind=kind,
                        detail=detail, status=ResourceStatus.AVAILABLE, created_by=actor.id)
    db.session.add(resource)
    db.session.flush()
    return resource


def list_resources(*, community_id=None, status=None, owner_type=None, kind=None):
    return where_given(select(Resource).order_by(Resource.id.desc()), (Resource.community_id, community_id),
                       (Resource.status, status), (Resource.owner_type, owner_type), (Resource.kind, kind))
