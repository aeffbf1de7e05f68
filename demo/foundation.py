"""Regions, units, staff and 30 members with reports in every state."""

from datetime import date

from stdnum.cn import ric

from extensions import db
from models import Feedback, Region, Report, RoleAssignment, Unit
from services.accounts import create_account
from services.auth import DEMO_MEMBER_PREFIX, hash_password
from services.members import register_member, set_id_number

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞宇"


def _region(name, kind, parent=None, **contact):
    region = Region(name=name, kind=kind, parent_id=parent.id if parent else None, **contact)
    db.session.add(region)
    db.session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    return region


def _staff(username, name, role, scope_type=None, scope_id=None, password="demo12345"):
    user = create_account(username=username, password_hash=hash_password(password), name=name)
    user.roles.append(RoleAssignment(role=role, scope_type=scope_type, scope_id=scope_id))
    return user


# Beijing's 东城, 西城, 朝阳 and 海淀 districts: region codes that python-stdnum knows for every demo birth year.
DEMO_REGION_CODES = ("110101", "110102", "110105", "110108")


def demo_openid(n):
    """Demo member n's stand-in for a WeChat openid; in development ``POST /auth/dev-login`` signs in with it."""
    return f"{DEMO_MEMBER_PREFIX}{n}"


def demo_id_number(n):
    """A resident ID that passes the full check (region, birth date, check digit; services.pii) for demo member n."""
    body = f"{DEMO_REGION_CODES[n % 4]}{1980 + n % 30:04d}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def seed(ctx):
    sysadmin = _staff("demo", "演示管理员", "sysadmin")
    district = _region("示范区", "district", contact_name="区志愿服务中心", contact_phone="010-12345678")
    streets = [_region(name, "street", district, contact_phone="010-8765432" + str(i))
               for i, name in enumerate(("和平街道", "光明街道"))]
    communities = []
    for street, names in zip(streets, (("和平里社区", "青年路社区"), ("光明里社区", "朝阳社区")), strict=True):
        for name in names:
            communities.append(_region(name, "community", street, contact_name=f"{name}党委",
                                       contact_phone="010-6" + str(1000000 + len(communities)),
                                       address=f"示范区{street.name}{name}服务站"))
    db.session.flush()
    staff = {
        "district": _staff("district", "区管理员", "district_admin", "region", district.id),
        "street": _staff("street1", "和平街道管理员", "street_admin", "region", streets[0].id),
    }
    community_admins = [_staff(f"community{i + 1}", f"{c.name}书记", "community_admin", "region", c.id)
                        for i, c in enumerate(communities)]
    unit_specs = [("示范区人民医院", "hospital"), ("示范区第一中学", "school"), ("示范区税务局", "government"),
                  ("光明科技有限公司", "enterprise"), ("和平社工事务所", "social_org"), ("示范区图书馆", "institution")]
    units = [Unit(name=name, kind=kind, community_id=communities[i % 4].id)
             for i, (name, kind) in enumerate(unit_specs)]
    db.session.add_all(units)
    db.session.flush()
    unit_admins = [_staff(f"unit{i + 1}", f"{u.name}党支部书记", "unit_admin", "unit", u.id)
                   for i, u in enumerate(units)]

    members = []
    for n in range(30):
        member = register_member(openid=demo_openid(n + 1), name=SURNAMES[n] + GIVEN[n])
        member.phone = f"138{n:04d}{5678 + n:04d}"[:11]
        member.political_status = ("party_member", "probationary_member", "league_member", "masses")[n % 4]
        member.in_service = n % 3 != 2
        member.unit_id = units[n % len(units)].id if member.in_service else None
        set_id_number(member, demo_id_number(n + 1))
        members.append(member)
    db.session.flush()

    statuses = ["approved"] * 18 + ["pending"] * 5 + ["rejected"] * 3 + ["withdrawn"] * 2 + [None] * 2
    for n, (member, status) in enumerate(zip(members, statuses, strict=True)):
        if status is None:
            continue
        community = communities[n % 4]
        report = Report(kind="member", status=status, member_id=member.id, unit_id=member.unit_id,
                        community_id=community.id, created_by=member.id,
                        reason="不在本社区居住" if status == "rejected" else None)
        db.session.add(report)
        if status == "approved":
            db.session.flush()
            if n % 3 == 0:
                db.session.add(Feedback(report_id=report.id, year=date.today().year - 1, rating=5,
                                        comment="积极参与社区服务", created_by=community_admins[n % 4].id))
    for i, unit in enumerate(units):
        db.session.add(Report(kind="unit", status="approved" if i < 4 else "pending", unit_id=unit.id,
                              community_id=unit.community_id, created_by=unit_admins[i].id))
    db.session.flush()

    ctx.update(sysadmin=sysadmin, district=district, streets=streets, communities=communities, units=units,
               members=members, community_admins=community_admins, unit_admins=unit_admins, staff=staff)
    return {"regions": 7, "units": len(units), "members": len(members), "staff": 3 + len(communities) + len(units)}
