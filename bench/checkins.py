"""Check-in throughput under gunicorn: distinct members' first scans against one activity, driven by wrk.

The server is ``gunicorn wsgi:app`` with the production settings of ``gunicorn.conf.py`` (``--workers`` and
``--threads`` override them) in its own process group; wrk (another process) sends pre-generated
requests, one distinct member per request (JWTs minted here for seeded members with real ``AuthSession`` rows).
``/healthz`` on the same server in the same run gives the baseline. Each request goes on a new connection
(``Connection: close``), as a reverse proxy such as nginx sends them to gunicorn by default; ``--keep-alive`` uses
wrk's persistent connections instead, which gunicorn's workers share unevenly (one may hold most of them).
Afterwards every acknowledged scan must be in ``attendances`` exactly once. ``QR_ROTATE_SECONDS`` is raised for the
run so that one token serves the whole run (rotation is not what is measured here).

    python -m bench.checkins [--database-url URL] [--sqlite] [--seconds 10] [--connections 16] [--workers N]
                             [--threads N] [--keep-alive]
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.runtime import WRK_MISSING, Server, bench_app, bench_database_url, mint_access_token, wrk_path
from bench.seed import SeedSpec, open_sessions, seed
from extensions import db
from models import Activity, Attendance, Region, User
from services.checkin_tokens import activity_token
from services.clock import utcnow

SCRIPT = Path(__file__).with_name("wrk_scans.lua")
ROTATE_SECONDS = "3600"
PLACE = (39.9289, 116.4177)
WRK_THREADS = 2
RESULT = re.compile(r"RESULT (.*)")


def run_wrk(url, lines_path, seconds, connections, threads=None, keep_alive=False):
    threads = threads or WRK_THREADS
    output = subprocess.run(
        [wrk_path(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(SCRIPT), url, "--", str(lines_path), str(threads), "keep-alive" if keep_alive else "close"],
        check=True, capture_output=True, text=True).stdout
    match = RESULT.search(output)
    if not match:
        raise RuntimeError("wrk printed no RESULT line:\n" + output)
    values = dict(pair.split("=") for pair in match.group(1).split())
    result = {k: (float(v) if "." in v else int(v)) for k, v in values.items()}
    result["rps"] = round(result["requests"] / result["seconds"], 1)
    result["errors"] = (result["other"] + result["connect"] + result["read"] + result["write"]
                        + result["timeout"])
    return result


def prepare(app, members):
    """An activity on now, sessions and tokens for ``members`` seeded members; the wrk request file."""
    with app.app_context():
        community_id = db.session.scalar(select(Region.id).where(Region.kind == "community").order_by(Region.id))
        member_ids = list(db.session.scalars(select(User.id).where(User.openid.is_not(None))
                                             .order_by(User.id.desc()).limit(members)))
        if len(member_ids) < members:
            raise RuntimeError(f"the database has {len(member_ids)} members, the run needs {members}")
        activity = Activity(community_id=community_id, title="基准签到", category="environment",
                            starts_at=utcnow() - timedelta(minutes=10), ends_at=utcnow() + timedelta(hours=3),
                            capacity=members, confirmed_count=0, lat=PLACE[0], lng=PLACE[1], radius_m=500,
                            requires_signup=False, status="published")
        db.session.add(activity)
        db.session.flush()
        activity_id, (token, _) = activity.id, activity_token(activity)
        # Commit and touch no ORM object after it: on SQLite a new transaction would hold the write lock.
        db.session.commit()
        sessions = open_sessions(member_ids)
        body = json.dumps({"token": token, "lat": PLACE[0], "lng": PLACE[1]})
        handle = tempfile.NamedTemporaryFile("w", suffix=".wrk", delete=False)  # noqa: SIM115
        with handle:
            for member_id in member_ids:
                handle.write(f"{mint_access_token(member_id, sessions[member_id])}\t{body}\n")
        return activity_id, Path(handle.name)


def verify(app, activity_id, created, connections):
    """Every acknowledged scan recorded once. wrk stops with up to ``connections`` requests in flight: those may be
    recorded without their answer being counted, so the table may hold that many more, but never a duplicate."""
    with app.app_context():
        total, distinct = db.session.execute(
            select(func.count(), func.count(func.distinct(Attendance.member_id)))
            .where(Attendance.activity_id == activity_id)).one()
        db.session.commit()
    return {"attendances": total, "distinct_members": distinct, "acknowledged": created,
            "exactly_once": total == distinct and created <= total <= created + connections}


def run(database_url, seconds=10, connections=16, members=20_000, workers=None, threads=None, keep_alive=False):
    if wrk_path() is None:
        return {"skipped": WRK_MISSING}
    database_url = bench_database_url(database_url)
    app = bench_app(database_url, QR_ROTATE_SECONDS=int(ROTATE_SECONDS))
    activity_id, lines = prepare(app, members)
    health_lines = Path(tempfile.mkstemp(suffix=".wrk")[1])
    health_lines.write_text("-\n" * WRK_THREADS)
    try:
        with Server(database_url, workers=workers, threads=threads,
                    env={"QR_ROTATE_SECONDS": ROTATE_SECONDS}) as server:
            health = run_wrk(server.url, health_lines, seconds, connections, keep_alive=keep_alive)
            scans = run_wrk(server.url, lines, seconds, connections, keep_alive=keep_alive)
    finally:
        lines.unlink()
        health_lines.unlink()
    check = verify(app, activity_id, scans["created"], connections)
    return {"database": app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0],
            "workers": workers or "gunicorn.conf.py", "threads": threads or "gunicorn.conf.py",
            "connections": connections, "keep_alive": keep_alive, "seconds": seconds, "members_prepared": members,
            "checkins": scans, "healthz": health, "ratio": round(scans["rps"] / health["rps"], 2),
            "first_scans_only": scans["ok"] == 0, **check}


def sqlite_database(members):
    """A fresh SQLite file with ``members`` members (no records): the file-database run."""
    path = Path(tempfile.mkdtemp(prefix="baodao-bench-sqlite-")) / "bench.sqlite3"
    url = f"sqlite:///{path}"
    app = bench_app(url)
    with app.app_context():
        db.create_all()
        seed(SeedSpec(communities=10, members=members, records=0, posts=0, activities_per_community=0,
                      communities_per_street=5, history_days=0))
    return url


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.checkins")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sqlite", action="store_true", help="run on a fresh SQLite file instead")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=None, help="default: gunicorn.conf.py (2 per core)")
    parser.add_argument("--threads", type=int, default=None, help="per worker; default: gunicorn.conf.py (4)")
    parser.add_argument("--keep-alive", action="store_true",
                        help="persistent connections instead of one connection per request")
    args = parser.parse_args(argv)
    url = sqlite_database(args.members) if args.sqlite else args.database_url
    print(json.dumps(run(url, args.seconds, args.connections, args.members, args.workers, args.threads,
                         args.keep_alive), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
