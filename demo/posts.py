"""Duty posts of every kind in each demo community, weekly templates, voluntary pools and two weeks of rosters."""

from extensions import db
from models import PoolMembership, Post, ShiftTemplate
from services import rosters

EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]

# (name, kind, address suffix, templates as (weekdays, start, end, seats, skip_holidays))
POSTS = (
    ("垃圾分类桶站", "bin_station", "3号楼东侧桶站",
     ((EVERY_DAY, "07:00", "09:00", 2, False), (EVERY_DAY, "18:00", "20:00", 2, False))),
    ("小区东门值守", "gate", "东门岗亭", (([1, 2, 3, 4, 5], "08:00", "11:00", 1, True),)),
    ("夜间安全巡逻", "patrol", "社区警务室集合", (([5, 6], "22:00", "02:00", 2, False),)),
    ("便民服务站", "other", "党群服务中心一楼", (([6, 7], "09:00", "11:30", 1, False),)),
)


def seed(ctx):
    communities, members, admins = ctx["communities"], ctx["members"], ctx["community_admins"]
    posts = []
    for index, (community, admin) in enumerate(zip(communities, admins, strict=True)):
        for name, kind, place, templates in POSTS:
            post = Post(community_id=community.id, name=f"{community.name}{name}", kind=kind,
                        address=f"{community.address or community.name}{place}", lat=39.92 + index * 0.01,
                        lng=116.46 + index * 0.01, radius_m=150, created_by=admin.id)
            db.session.add(post)
            db.session.flush()
            for weekdays, start, end, seats, skip_holidays in templates:
                db.session.add(ShiftTemplate(post_id=post.id, weekdays=weekdays, start=start, end=end, seats=seats,
                                             skip_holidays=skip_holidays, active=True))
            posts.append(post)
    # Members volunteered for posts in the community they reported to (foundation: community n % 4).
    pools = 0
    for n, member in enumerate(members):
        community_posts = [p for p in posts if p.community_id == communities[n % 4].id]
        for post in community_posts[: 2 + n % 3]:
            db.session.add(PoolMembership(post_id=post.id, member_id=member.id))
            pools += 1
    members[0].unavailable_weekdays = [6, 7]
    members[1].unavailable_weekdays = [1]
    db.session.flush()
    result = rosters.generate_for_posts([post.id for post in posts])
    ctx["posts"] = posts
    return {"posts": len(posts), "pool members": pools, "shifts": result["shifts_created"],
            "shift seats filled": result["seats_filled"]}
