"""Check-in throughput under gunicorn: distinct members' first scans against one activity (or, with ``--at post``, at
one post during a shift that has them all on it), driven by wrk.

The server is ``gunicorn wsgi:app`` with the production settings of ``gunicorn.conf.py`` (``--workers`` and
``--threads`` override them) in its own process group; wrk (another process) sends pre-generated requests, one
distinct member per request (JWTs minted here for seeded members with real ``AuthSession`` rows). ``/healthz`` on
the same server in the same run gives the baseline: the run alternates slices of ``/healthz`` and of scans
(``--rounds``, default 5), so that a shared machine slowing down for a while weighs on both alike. Each request goes
on a new connection (``Connection: close``), as a reverse proxy such as nginx sends them to gunicorn by default;
``--keep-alive`` uses wrk's persistent connections instead, which gunicorn's workers share unevenly (one may hold
most of them). Afterwards every acknowledged scan must be in ``attendances`` exactly once. ``QR_ROTATE_SECONDS`` is
raised for the run so that one token serves the whole run (rotation is not what is measured here).

    python -m bench.checkins [--database-url URL] [--sqlite] [--at activity|post] [--seconds 10] [--rounds 5]
                             [--connections 16] [--workers N] [--threads N] [--keep-alive]
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.runtime import WRK_MISSING, Server, bench_app, bench_database_url, mint_access_token, wrk_path
from bench.seed import SeedSpec, open_sessions, seed
from clock import utcnow
from extensions import db
from models import Activity, Attendance, Post, Region, Shift, ShiftAssignment, User
from services.checkin_tokens import activity_token, post_token

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


def prepare(app, members, at="activity"):
    """A place on now for ``members`` seeded members, their sessions and tokens: ``(place, wrk request file)``, the
    place being the attendance column and id its scans are recorded under.

    ``at="activity"``: an activity needing no sign-up. ``at="post"``: a post whose shift on now has every member
    assigned, so a scan takes the post's path (its static token, the shift on now, the member's assignment)."""
    with app.app_context():
        community_id = db.session.scalar(select(Region.id).where(Region.kind == "community").order_by(Region.id))
        member_ids = list(db.session.scalars(select(User.id).where(User.openid.is_not(None))
                                             .order_by(User.id.desc()).limit(members)))
        if len(member_ids) < members:
            raise RuntimeError(f"the database has {len(member_ids)} members, the run needs {members}")
        starts_at, ends_at = utcnow() - timedelta(minutes=10), utcnow() + timedelta(hours=3)
        if at == "activity":
            activity = Activity(community_id=community_id, title="基准签到", category="environment",
                                starts_at=starts_at, ends_at=ends_at, capacity=members, confirmed_count=0,
                                lat=PLACE[0], lng=PLACE[1], radius_m=500, requires_signup=False, status="published")
            db.session.add(activity)
            db.session.flush()
            place, (token, _) = (Attendance.activity_id, activity.id), activity_token(activity)
        else:
            post = Post(community_id=community_id, name="基准桶站", kind="bin_station", lat=PLACE[0], lng=PLACE[1],
                        radius_m=500)
            db.session.add(post)
            db.session.flush()
            shift = Shift(post_id=post.id, starts_at=starts_at, ends_at=ends_at, seats=members, filled=members)
            db.session.add(shift)
            db.session.flush()
            db.session.execute(insert(ShiftAssignment), [
                {"shift_id": shift.id, "member_id": member_id, "status": "assigned"} for member_id in member_ids])
            place, token = (Attendance.shift_id, shift.id), post_token(post)
        # Commit and touch no ORM object after it: on SQLite a new transaction would hold the write lock.
        db.session.commit()
        sessions = open_sessions(member_ids)
        body = json.dumps({"token": token, "lat": PLACE[0], "lng": PLACE[1]})
        handle = tempfile.NamedTemporaryFile("w", suffix=".wrk", delete=False)  # noqa: SIM115
        with handle:
            for member_id in member_ids:
                handle.write(f"{mint_access_token(member_id, sessions[member_id])}\t{body}\n")
        return place, Path(handle.name)


def verify(app, place, created, in_flight):
    """Every acknowledged scan recorded once. Each wrk run stops with up to ``connections`` requests in flight: those
    may be recorded without their answer being counted, so the table may hold ``in_flight`` more, but never a
    duplicate."""
    with app.app_context():
        total, distinct = db.session.execute(
            select(func.count(), func.count(func.distinct(Attendance.member_id)))
            .where(place[0] == place[1])).one()
        db.session.commit()
    return {"attendances": total, "distinct_members": distinct, "acknowledged": created,
            "exactly_once": total == distinct and created <= total <= created + in_flight}


def combine(slices):
    """One result of several wrk slices: counts and seconds add up, p50 is the slices' median, p99 and max their
    worst."""
    total = {key: sum(part[key] for part in slices) for key in ("requests", "seconds", "created", "ok", "other",
                                                                 "errors")}
    total["seconds"] = round(total["seconds"], 3)
    total["rps"] = round(total["requests"] / total["seconds"], 1)
    total["p50"] = sorted(part["p50"] for part in slices)[len(slices) // 2]
    total["p99"] = max(part["p99"] for part in slices)
    total["max"] = max(part["max"] for part in slices)
    return total


def run(database_url, seconds=10, connections=16, members=20_000, workers=None, threads=None, keep_alive=False,
        rounds=5, at="activity"):
    """``seconds`` of scans and as many of ``/healthz``, interleaved in ``rounds`` slices (healthz, scans, healthz,
    ...): a change in the shared machine's speed during the run weighs on both alike, so the ratio measures the
    request, not the minute it ran in. Each slice of scans takes members no earlier slice used."""
    if wrk_path() is None:
        return {"skipped": WRK_MISSING}
    database_url = bench_database_url(database_url)
    app = bench_app(database_url, QR_ROTATE_SECONDS=int(ROTATE_SECONDS))
    place, lines = prepare(app, members, at)
    directory = Path(tempfile.mkdtemp(prefix="baodao-bench-wrk-"))
    health_lines = directory / "healthz.wrk"
    health_lines.write_text("-\n" * WRK_THREADS)
    scan_lines = lines.read_text().splitlines(keepends=True)
    lines.unlink()
    per_round = len(scan_lines) // rounds
    round_files = []
    for n in range(rounds):
        path = directory / f"scans-{n}.wrk"
        path.write_text("".join(scan_lines[n * per_round:(n + 1) * per_round]))
        round_files.append(path)
    slice_seconds = max(1, round(seconds / rounds))
    health, scans = [], []
    try:
        with Server(database_url, workers=workers, threads=threads,
                    env={"QR_ROTATE_SECONDS": ROTATE_SECONDS}) as server:
            for path in round_files:
                health.append(run_wrk(server.url, health_lines, slice_seconds, connections, keep_alive=keep_alive))
                scans.append(run_wrk(server.url, path, slice_seconds, connections, keep_alive=keep_alive))
    finally:
        for path in [health_lines, *round_files]:
            path.unlink()
        directory.rmdir()
    check = verify(app, place, sum(part["created"] for part in scans), connections * rounds)
    checkins, healthz = combine(scans), combine(health)
    return {"database": app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0], "at": at,
            "workers": workers or "gunicorn.conf.py", "threads": threads or "gunicorn.conf.py",
            "connections": connections, "keep_alive": keep_alive, "seconds": slice_seconds * rounds,
            "rounds": rounds, "members_prepared": members, "checkins": checkins, "healthz": healthz,
            "ratio": round(checkins["rps"] / healthz["rps"], 2),
            "ratio_per_round": [round(s["rps"] / h["rps"], 2) for s, h in zip(scans, health, strict=True)],
            "first_scans_only": checkins["ok"] == 0, **check}


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
    parser.add_argument("--at", choices=("activity", "post"), default="activity", help="the kind of place scanned")
    parser.add_argument("--seconds", type=int, default=10, help="of scans, and as many of /healthz")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved slices of /healthz and scans")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=None, help="default: gunicorn.conf.py (2 per core)")
    parser.add_argument("--threads", type=int, default=None, help="per worker; default: gunicorn.conf.py (4)")
    parser.add_argument("--keep-alive", action="store_true",
                        help="persistent connections instead of one connection per request")
    args = parser.parse_args(argv)
    url = sqlite_database(args.members) if args.sqlite else args.database_url
    print(json.dumps(run(url, args.seconds, args.connections, args.members, args.workers, args.threads,
                         args.keep_alive, args.rounds, args.at), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
