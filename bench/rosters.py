"""``generate_rosters`` over every post of the seeded district (3,000 posts, 6,000 templates in the city preset) for
the next 14 days: wall time and peak memory (resident set sampled during the run; ``--tracemalloc`` also reports
Python's own peak allocation, at a cost in speed).

Coming shifts and their assignments and notices are removed first, so every run starts from the same state.

    python -m bench.rosters [--database-url URL] [--posts N] [--tracemalloc]

``--posts N`` limits the run to the first N posts (by id), for a quick comparison or a profile.
"""

import argparse
import json
import sys
import time
import tracemalloc

from sqlalchemy import delete, func, select

from bench.runtime import bench_app, rss_sampler
from clock import utcnow
from extensions import db
from models import Notification, OutboundMessage, Post, Shift, ShiftAssignment, ShiftTemplate
from services.rosters import HORIZON_DAYS, generate_rosters

GOAL_SECONDS = 60
GOAL_MB = 500


def reset_coming_shifts():
    coming = select(Shift.id).where(Shift.starts_at > utcnow())
    db.session.execute(delete(ShiftAssignment).where(ShiftAssignment.shift_id.in_(coming)))
    db.session.execute(delete(Shift).where(Shift.starts_at > utcnow()))
    db.session.execute(delete(OutboundMessage))
    db.session.execute(delete(Notification).where(Notification.kind == "shift_assigned"))
    db.session.commit()


def run(database_url=None, trace=False, limit=None):
    app = bench_app(database_url)
    with app.app_context():
        reset_coming_shifts()
        post_ids = None
        if limit is not None:
            post_ids = list(db.session.scalars(select(Post.id).order_by(Post.id).limit(limit)))
        posts = len(post_ids) if post_ids is not None else db.session.scalar(select(func.count()).select_from(Post))
        templates = db.session.scalar(select(func.count()).select_from(ShiftTemplate).where(
            ShiftTemplate.post_id.in_(post_ids) if post_ids is not None else True))
        if trace:
            tracemalloc.start()
        with rss_sampler() as memory:
            started = time.perf_counter()
            outcome = generate_rosters(post_ids)
            seconds = time.perf_counter() - started
        traced_mb = None
        if trace:
            traced_mb = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
    return {"posts": posts, "templates": templates, "days": HORIZON_DAYS, **outcome, "seconds": round(seconds, 1),
            "rss_start_mb": memory["start_mb"], "rss_peak_mb": memory["peak_mb"], "tracemalloc_peak_mb": traced_mb,
            "meets_goal": seconds < GOAL_SECONDS and memory["peak_mb"] < GOAL_MB}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.rosters")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--posts", type=int, default=None, help="only the first N posts (default: all)")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.database_url, args.tracemalloc, args.posts), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
