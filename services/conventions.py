"""Community conventions (社区公约): the rules a community's partners and residents agree on, such as the 社会治理合伙人
公约 that fixes each party's role. Community staff write them; anyone signed in reads them.

A convention is version 1 when written; each revision (``PUT``, with its reason) is the next version, every earlier
one kept. Revisions of one convention are made one at a time (the row is locked), so versions never collide.
``partner_ids`` name the community's active partners who subscribe to it (422 otherwise).
"""

from sqlalchemy import select

from clock import utcnow
from errors import NotFound
from extensions import db
from models import Convention, ConventionVersion
from services import partners
from services.authz import community_field, fetch, require_community_staff, within_scope
from services.database import as_dict, where_given


def _not_found():
    return NotFound("convention_not_found", "公约不存在或不在管辖范围内")


def access_convention(actor, convention_id, *, for_write):
    """A convention: anyone signed in reads it; to revise it, the community's staff get it locked (403
    ``community_staff_only`` for other roles, 404 outside their scope)."""
    if for_write:
        require_community_staff(actor)
    convention = fetch(Convention, convention_id, _not_found(), lock=for_write)
    if for_write and not actor.covers_community_id(convention.community_id):
        raise _not_found()
    return convention


def _version(convention, reason, actor, now):
    db.session.add(ConventionVersion(convention_id=convention.id, version=convention.version, title=convention.title,
                                     text=convention.text, partner_ids=convention.partner_ids, reason=reason,
                                     recorded_by=actor.id, recorded_at=now))
    db.session.flush()


def create_convention(actor, *, community_id, title, text, partner_ids=()):
    require_community_staff(actor)
    community = community_field(community_id)
    partners.active_partners(community.id, partner_ids, "partner_ids")
    within_scope(actor, community)
    now = utcnow()
    convention = Convention(community_id=community.id, title=title, text=text,
                            partner_ids=list(dict.fromkeys(partner_ids)), version=1, created_by=actor.id,
                            created_at=now, updated_at=now)
    db.session.add(convention)
    db.session.flush()
    _version(convention, None, actor, now)
    return convention


def revise_convention(actor, convention_id, *, title, text, reason, partner_ids=()):
    """The next version, with its reason."""
    require_community_staff(actor)
    partners.named(partner_ids, "partner_ids")
    convention = access_convention(actor, convention_id, for_write=True)
    partners.active_partners(convention.community_id, partner_ids, "partner_ids", kept=convention.partner_ids)
    now = utcnow()
    convention.title, convention.text, convention.partner_ids = title, text, list(dict.fromkeys(partner_ids))
    convention.version += 1
    convention.updated_at = now
    db.session.flush()
    _version(convention, reason, actor, now)
    return convention


def list_conventions(*, community_id=None):
    return where_given(select(Convention).order_by(Convention.id.desc()), (Convention.community_id, community_id))


def versions(actor, convention_id):
    convention = access_convention(actor, convention_id, for_write=False)
    return select(ConventionVersion).where(ConventionVersion.convention_id == convention.id).order_by(
        ConventionVersion.version)


def present(conventions):
    """Conventions (or their versions) with the names and roles of the partners they name (one query)."""
    named = partners.roles_and_names(i for c in conventions for i in c.partner_ids or ())
    return [{**as_dict(c), "partners": [named[i] for i in c.partner_ids or () if i in named]} for c in conventions]


def present_one(convention):
    return present([convention])[0]
