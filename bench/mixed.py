"""The mini-program's Saturday morning under gunicorn: a mix of reads and writes from distinct members, driven by wrk.

Members (``--members``, default 200,000, the city preset's) each get a real ``AuthSession`` and a JWT minted here,
and one line of the request file: which request it sends follows ``MIX``'s proportions (``schedule``). The writes hit
targets made for the run, each at most once: every sign-up its member's (member, activity) pair in one of two
activities of the member's community starting in two days, every claim an open wish of the member's community of
its own, every scan a first scan of an activity on now (as bench/checkins.py). So an answer that is not 2xx is an
error of the server, never of the script. "Near me" is the member's own community's activities from today
(``community_id`` and ``from``): the contract's ``GET /activities`` has no lat/lng filter, and its strict query
schema would answer them 422.

As in bench/checkins.py, the run alternates slices of ``/healthz`` and of the mix on the same server (``--rounds``),
each request on a new connection (``Connection: close``) as nginx sends them; the ratio is the mix's requests per
second over ``/healthz``'s. The server's CPU per request (gunicorn's processes and the database's backends, read from
/proc around each slice) gives the same comparison without the shared machine's other load: ``cpu_ratio``.
wrk_mixed.lua tags each request with an X-Request-ID the API echoes, so every answer is
timed and counted per endpoint: p50/p99 per endpoint and the errors (statuses other than 2xx, socket errors, answers
that match no request). A first slice of the mix, not counted, warms the workers up. Afterwards the database must
hold the acknowledged sign-ups, claims and scans (and at most the requests left in flight more).

    python -m bench.mixed [--database-url URL] [--members 200000] [--seconds 20] [--rounds 5] [--connections 16]
                          [--workers N] [--threads N]
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

from bench.runtime import WRK_MISSING, Server, bench_app, bench_database_url, mint_access_token, percentile, wrk_path
from bench.seed import open_sessions
from clock import local_today, utcnow
from extensions import db
from models import Activity, Attendance, Report, Signup, Wish
from services.checkin_tokens import activity_token

SCRIPT = Path(__file__).with_name("wrk_mixed.lua")
ROTATE_SECONDS = "3600"
PLACE = (39.9289, 116.4177)
WRK_THREADS = 2
RESULT = re.compile(r"RESULT (.*)")

# A Saturday morning's requests, in percent: members mostly open the app (their card, hours, notifications) and look
# at what is on; fewer sign up, scan in at an activity, or claim a wish.
MIX = {
    "me": 20,             # GET /me: the app opens
    "activities": 20,     # GET /activities?community_id=&from=: what is on near me
    "hours": 12,          # GET /me/hours: this year's hours
    "notifications": 12,  # GET /me/notifications
    "wishes": 10,         # GET /wishes?community_id=&status=open
    "shifts": 8,          # GET /me/shifts?from=&to=: my duty for the fortnight
    "signup": 8,          # POST /activities/{id}/signups
    "scan": 7,            # POST /checkins: a first scan at an activity on now
    "claim": 3,           # POST /wishes/{id}/claim
}
ENDPOINTS = {
    "me": "GET /me", "activities": "GET /activities", "hours": "GET /me/hours",
    "notifications": "GET /me/notifications", "wishes": "GET /wishes", "shifts": "GET /me/shifts",
    "signup": "POST /activities/{id}/signups", "scan": "POST /checkins", "claim": "POST /wishes/{id}/claim",
}


def schedule(count):
    """``count`` kinds of request in ``MIX``'s proportions, spread evenly (smooth weighted round-robin, as nginx
    balances): every run of 100 lines holds the exact percentages, and a short run already holds every kind."""
    total, current, kinds = sum(MIX.values()), dict.fromkeys(MIX, 0), []
    for _ in range(count):
        for kind, weight in MIX.items():
            current[kind] += weight
        chosen = max(MIX, key=current.get)
        current[chosen] -= total
        kinds.append(chosen)
    return kinds


def _members(count):
    """``count`` members with their community (their approved member report's), newest first."""
    rows = db.session.execute(
        select(Report.member_id, Report.community_id)
        .where(Report.kind == "member", Report.status == "approved", Report.member_id.is_not(None))
        .order_by(Report.member_id.desc()).limit(count)).all()
    if len(rows) < count:
        raise RuntimeError(f"the database has {len(rows)} reported members, the run needs {count}")
    return rows


def prepare(app, members, seed=20241130):
    """The run's targets, sessions and tokens: ``(targets, request file)``. Each line of the file is one member's one
    request (members in a shuffled order, kinds by ``schedule``; see the module docstring)."""
    rng = random.Random(seed)
    with app.app_context():
        rows = _members(members)
        rng.shuffle(rows)
        drawn = schedule(len(rows))
        now = utcnow()
        scan_activity = Activity(
            community_id=rows[0][1], title="基准周六签到", category="environment",
            starts_at=now - timedelta(minutes=10), ends_at=now + timedelta(hours=3), capacity=members,
            confirmed_count=0, lat=PLACE[0], lng=PLACE[1], radius_m=500, requires_signup=False, status="published")
        db.session.add(scan_activity)
        communities = sorted({community_id for _, community_id in rows})
        starts = now + timedelta(days=2)
        signup_activities = {community_id: [Activity(
            community_id=community_id, title=f"基准周六活动{n + 1}", category="environment", starts_at=starts,
            ends_at=starts + timedelta(hours=2), capacity=100_000, confirmed_count=0, lat=PLACE[0], lng=PLACE[1],
            radius_m=500, requires_signup=True, status="published") for n in range(2)] for community_id in communities}
        db.session.add_all([a for pair in signup_activities.values() for a in pair])
        claims = Counter(community_id for (_, community_id), kind in zip(rows, drawn, strict=True) if kind == "claim")
        wish_ids = {}
        for community_id, count in claims.items():
            wish_ids[community_id] = list(db.session.scalars(insert(Wish).returning(Wish.id), [
                {"community_id": community_id, "title": f"基准微心愿{n + 1}", "description": "基准测试",
                 "status": "open", "created_at": now} for n in range(count)]))
        db.session.flush()
        token, _ = activity_token(scan_activity)
        targets = {"scan_activity": scan_activity.id,
                   "signup_activities": [a.id for pair in signup_activities.values() for a in pair],
                   "wishes": [i for ids in wish_ids.values() for i in ids]}
        signup_ids = {c: [a.id for a in pair] for c, pair in signup_activities.items()}
        db.session.commit()
        sessions = open_sessions([member_id for member_id, _ in rows])
        today = local_today()
        scan_body = json.dumps({"token": token, "lat": PLACE[0], "lng": PLACE[1]})
        handle = tempfile.NamedTemporaryFile("w", suffix=".wrk", delete=False)  # noqa: SIM115
        with handle:
            for (member_id, community_id), kind in zip(rows, drawn, strict=True):
                method, body = "GET", ""
                if kind == "me":
                    path = "/api/v1/me"
                elif kind == "activities":
                    path = f"/api/v1/activities?community_id={community_id}&from={today.isoformat()}"
                elif kind == "hours":
                    path = f"/api/v1/me/hours?year={today.year}"
                elif kind == "notifications":
                    path = "/api/v1/me/notifications"
                elif kind == "wishes":
                    path = f"/api/v1/wishes?community_id={community_id}&status=open"
                elif kind == "shifts":
                    path = f"/api/v1/me/shifts?from={today.isoformat()}&to={(today + timedelta(days=13)).isoformat()}"
                elif kind == "signup":
                    method, path = "POST", f"/api/v1/activities/{rng.choice(signup_ids[community_id])}/signups"
                elif kind == "scan":
                    method, path, body = "POST", "/api/v1/checkins", scan_body
                else:
                    method, path, body = "POST", f"/api/v1/wishes/{wish_ids[community_id].pop()}/claim", "{}"
                token = mint_access_token(member_id, sessions[member_id])
                handle.write(f"{kind}\t{method}\t{path}\t{token}\t{body}\n")
        return targets, Path(handle.name)


TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid):
    """User plus system CPU seconds of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def server_cpu(server, app):
    """CPU seconds used so far by the server: gunicorn's master and workers, and the PostgreSQL backends serving
    the bench database (a shared machine's other load is not in it, so per request it compares runs made at any
    load)."""
    pids = [server.process.pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == server.process.pid:
                pids.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    backends = []
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            backends = list(db.session.scalars(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")))
            db.session.commit()
    return {**{("app", pid): _process_cpu(pid) for pid in pids}, **{("db", pid): _process_cpu(pid) for pid in backends}}


def cpu_used(before, after):
    """CPU seconds between two ``server_cpu`` samples, ``{"app": gunicorn's, "db": PostgreSQL's}`` (a backend that
    started in between counts from zero)."""
    used = {"app": 0.0, "db": 0.0}
    for (side, pid), seconds in after.items():
        used[side] += seconds - before.get((side, pid), 0.0)
    return used


def run_wrk(url, lines_path, seconds, connections, log_prefix, threads=WRK_THREADS):
    output = subprocess.run(
        [wrk_path(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(SCRIPT), url, "--", str(lines_path), str(threads), "close", str(log_prefix)],
        check=True, capture_output=True, text=True).stdout
    match = RESULT.search(output)
    if not match:
        raise RuntimeError("wrk printed no RESULT line:\n" + output)
    result = {k: (float(v) if "." in v else int(v)) for k, v in (p.split("=") for p in match.group(1).split())}
    result["rps"] = round(result["requests"] / result["seconds"], 1)
    result["errors"] = sum(result[k] for k in ("other", "unmatched", "connect", "read", "write", "timeout"))
    return result


def read_log(log_prefix, threads=WRK_THREADS):
    """The answers the Lua script logged: ``[(kind, status, ms, body)]``."""
    answers = []
    for n in range(threads):
        path = Path(f"{log_prefix}{n}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            kind, status, ms, *body = line.split(" ", 3)
            answers.append((kind, int(status), float(ms), body[0] if body else ""))
        path.unlink()
    return answers


def per_endpoint(answers):
    """p50/p99/max per endpoint, with the count of answers and of errors (and a few of the errors' bodies)."""
    table = {}
    for kind in MIX:
        mine = [a for a in answers if a[0] == kind]
        times = [a[2] for a in mine]
        failed = [a for a in mine if not 200 <= a[1] < 300]
        table[kind] = {"endpoint": ENDPOINTS[kind], "n": len(mine), "errors": len(failed),
                       "p50_ms": round(percentile(times, 50), 1), "p99_ms": round(percentile(times, 99), 1),
                       "max_ms": round(max(times, default=0), 1)}
        if failed:
            table[kind]["error_samples"] = [f"{status} {body}" for _, status, _, body in failed[:3]]
    return table


def verify(app, targets, answers, in_flight):
    """The database holds the acknowledged writes: sign-ups and scans of the run's targets, claimed wishes. Each wrk
    slice stops with requests in flight whose answers were not counted, so the database may hold a few more."""
    acknowledged = Counter(a[0] for a in answers if 200 <= a[1] < 300)
    with app.app_context():
        signups = db.session.scalar(select(func.count()).select_from(Signup).where(
            Signup.activity_id.in_(targets["signup_activities"])))
        scans = db.session.scalar(select(func.count()).select_from(Attendance).where(
            Attendance.activity_id == targets["scan_activity"]))
        claims = db.session.scalar(select(func.count()).select_from(Wish).where(
            Wish.id.in_(targets["wishes"]), Wish.status == "claimed"))
        db.session.commit()
    counts = {"signups": (acknowledged["signup"], signups), "scans": (acknowledged["scan"], scans),
              "claims": (acknowledged["claim"], claims)}
    return {**{name: {"acknowledged": a, "in_db": n} for name, (a, n) in counts.items()},
            "consistent": all(a <= n <= a + in_flight for a, n in counts.values())}


def run(database_url=None, seconds=20, connections=16, members=200_000, workers=None, threads=None, rounds=5,
        warmup=True):
    """``seconds`` of the mix and as many of ``/healthz``, interleaved in ``rounds`` slices (healthz, mix, ...); each
    slice of the mix takes lines (members) no earlier slice used."""
    if wrk_path() is None:
        return {"skipped": WRK_MISSING}
    database_url = bench_database_url(database_url)
    app = bench_app(database_url, QR_ROTATE_SECONDS=int(ROTATE_SECONDS))
    started = time.perf_counter()
    targets, lines = prepare(app, members)
    prepared_seconds = round(time.perf_counter() - started, 1)
    directory = Path(tempfile.mkdtemp(prefix="baodao-bench-mixed-"))
    health_lines = directory / "healthz.wrk"
    health_lines.write_text("-\n" * WRK_THREADS)
    mix_lines = lines.read_text().splitlines(keepends=True)
    lines.unlink()
    # One more slice than the rounds, first: it warms every worker's endpoints (imports, caches) and is not counted.
    slices = rounds + 1 if warmup else rounds
    per_round = len(mix_lines) // slices
    round_files = []
    for n in range(slices):
        path = directory / f"mix-{n}.wrk"
        path.write_text("".join(mix_lines[n * per_round:(n + 1) * per_round]))
        round_files.append(path)
    slice_seconds = max(1, round(seconds / rounds))
    health, mixes, answers, load = [], [], [], [os.getloadavg()]
    try:
        with Server(database_url, workers=workers, threads=threads,
                    env={"QR_ROTATE_SECONDS": ROTATE_SECONDS}) as server:
            warm = []
            if warmup:
                run_wrk(server.url, round_files[0], min(slice_seconds, 3), connections, directory / "w")
                warm = read_log(directory / "w")
            for n, path in enumerate(round_files[1:] if warmup else round_files):
                before = server_cpu(server, app)
                health.append(run_wrk(server.url, health_lines, slice_seconds, connections, directory / "h"))
                middle = server_cpu(server, app)
                read_log(directory / "h")
                mixes.append(run_wrk(server.url, path, slice_seconds, connections, directory / f"log{n}-"))
                health[-1]["cpu_seconds"] = cpu_used(before, middle)
                mixes[-1]["cpu_seconds"] = cpu_used(middle, server_cpu(server, app))
                answers += read_log(directory / f"log{n}-")
                load.append(os.getloadavg())
    finally:
        for path in [health_lines, *round_files]:
            path.unlink()
        for leftover in directory.iterdir():
            leftover.unlink()
        directory.rmdir()
    mix_rps = sum(m["requests"] for m in mixes) / sum(m["seconds"] for m in mixes)
    health_rps = sum(h["requests"] for h in health) / sum(h["seconds"] for h in health)
    endpoints = per_endpoint(answers)
    errors = sum(m["errors"] for m in mixes)

    def cpu_ms(slices, side):
        requests = max(1, sum(part["requests"] for part in slices))
        return sum(part["cpu_seconds"][side] for part in slices) / requests * 1000

    mix_cpu = cpu_ms(mixes, "app") + cpu_ms(mixes, "db")
    health_cpu = cpu_ms(health, "app") + cpu_ms(health, "db")
    return {"workers": workers or "gunicorn.conf.py", "threads": threads or "gunicorn.conf.py",
            "connections": connections, "keep_alive": False, "seconds": slice_seconds * rounds, "rounds": rounds,
            "members_prepared": members, "prepare_seconds": prepared_seconds, "mix_percent": MIX,
            "load_average": [[round(x, 2) for x in sample] for sample in load],
            "mix": {"requests": sum(m["requests"] for m in mixes), "rps": round(mix_rps, 1), "errors": errors,
                    "exhausted_threads": sum(m["exhausted"] for m in mixes),
                    "server_cpu_ms_per_request": round(mix_cpu, 2),
                    "gunicorn_cpu_ms_per_request": round(cpu_ms(mixes, "app"), 2),
                    "postgresql_cpu_ms_per_request": round(cpu_ms(mixes, "db"), 2)},
            "healthz": {"requests": sum(h["requests"] for h in health), "rps": round(health_rps, 1),
                        "errors": sum(h["errors"] for h in health),
                        "server_cpu_ms_per_request": round(health_cpu, 2),
                        "gunicorn_cpu_ms_per_request": round(cpu_ms(health, "app"), 2),
                        "postgresql_cpu_ms_per_request": round(cpu_ms(health, "db"), 2)},
            "ratio": round(mix_rps / health_rps, 2),
            # What the ratio would be were the server alone on its cores: /healthz's CPU per request over the mix's.
            "cpu_ratio": round(health_cpu / mix_cpu, 2) if mix_cpu else None,
            "ratio_per_round": [round(m["rps"] / h["rps"], 2) for m, h in zip(mixes, health, strict=True)],
            "endpoints": endpoints,
            "writes": verify(app, targets, warm + answers, in_flight=connections * slices),
            "slowest_p99_ms": max((e["p99_ms"] for e in endpoints.values()), default=0)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.mixed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--members", type=int, default=200_000, help="distinct members, one request line each")
    parser.add_argument("--seconds", type=int, default=20, help="of the mix, and as many of /healthz")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved slices of /healthz and the mix")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None, help="default: gunicorn.conf.py (2 per core)")
    parser.add_argument("--threads", type=int, default=None, help="per worker; default: gunicorn.conf.py (4)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.database_url, args.seconds, args.connections, args.members, args.workers,
                         args.threads, args.rounds), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
