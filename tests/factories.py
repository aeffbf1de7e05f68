"""Factories for the tests: regions, units, members, staff, reports and sign-in headers."""

import itertools

from extensions import db
from models import Department, Region, Report, RoleAssignment, Unit
from models.user import ROLES
from services import rollups
from services.accounts import create_account
from services.auth import hash_password, issue_tokens
from services.members import register_member

_seq = itertools.count(1)
_password_hash = None


def make_region(name, kind, parent=None, **fields):
    region = Region(name=name, kind=kind, parent_id=parent.id if parent else None, **fields)
    db.session.add(region)
    db.session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    db.session.commit()
    return region


def region_tree():
    """A district with two streets of two communities each: a1, a2 (street a) and b1, b2 (street b)."""
    district = make_region("测试区", "district")
    street_a = make_region("甲街道", "street", district)
    street_b = make_region("乙街道", "street", district)
    tree = {"district": district, "street_a": street_a, "street_b": street_b}
    for street, key in ((street_a, "a"), (street_b, "b")):
        for n in (1, 2):
            tree[f"{key}{n}"] = make_region(f"{key}{n}社区", "community", street,
                                            contact_name=f"{key}{n}社区居委会", contact_phone="010-88886666")
    return tree


def make_unit(community, name=None, kind="enterprise"):
    unit = Unit(name=name or f"测试单位{next(_seq)}", kind=kind, community_id=community.id)
    db.session.add(unit)
    db.session.commit()
    return unit


def make_member(name=None, unit=None, **fields):
    member = register_member(openid=f"openid-{next(_seq)}", name=name or f"成员{next(_seq)}")
    member.unit_id = unit.id if unit else None
    for key, value in fields.items():
        setattr(member, key, value)
    db.session.commit()
    return member


def make_staff(role, scope=None, name=None):
    """A staff account; ``scope`` is a Region for region roles, a Unit for unit_admin, a Department for
    department_admin, None for sysadmin."""
    global _password_hash
    _password_hash = _password_hash or hash_password("password123")
    n = next(_seq)
    user = create_account(username=f"{role}{n}", password_hash=_password_hash, name=name or f"{role}{n}")
    user.roles.append(RoleAssignment(role=role, scope_type=ROLES[role].scope_type,
                                     scope_id=scope.id if scope else None))
    db.session.commit()
    return user


def make_department(region, name=None):
    department = Department(region_id=region.id, name=name or f"职能部门{next(_seq)}")
    db.session.add(department)
    db.session.commit()
    return department


def make_report(member, community, status="approved"):
    report = Report(kind="member", status=status, member_id=member.id, unit_id=member.unit_id,
                    community_id=community.id, created_by=member.id)
    db.session.add(report)
    if status == "approved":  # written past the services: counted as reports.decide would
        db.session.flush()
        rollups.reports_changed(report, +1)
    db.session.commit()
    return report


def auth(user):
    """Authorization headers for a fresh sign-in of ``user``."""
    tokens = issue_tokens(user)
    db.session.commit()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def error_code(response):
    return response.get_json()["error"]["code"]


def make_grants(member, template_id, count=1):
    """``count`` subscribe-message grants of a template, as ``POST /me/subscriptions`` records them."""
    from models import SubscriptionGrant

    db.session.add(SubscriptionGrant(member_id=member.id, template_id=template_id, grants_left=count))
    db.session.commit()
