"""A team sign-up of 50 members racing single sign-ups for the same activity stays exact (issue 19).

Each round makes an activity with fewer seats than people who want them, a team of ``members`` (its leader among
them) and ``singles`` other members, then fires the team's sign-up and every single sign-up at once, each from its
own thread over real HTTP (a threaded server in this process; one database transaction per request). It checks that
the confirmed sign-ups equal the capacity exactly, that the activity's seat counter agrees, and that every member
is confirmed or waitlisted once; and it times the team sign-up (the single sign-up composed 50 times in one
transaction, under the activity's seat lock) and the single ones.

    python -m bench.teams [--database-url URL] [--members 50] [--singles 100] [--rounds 5]
"""

import argparse
import json
import sys
import threading
import time
from datetime import timedelta

import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bench.runtime import bench_app, mint_access_token, percentile
from bench.seed import open_sessions
from clock import utcnow
from extensions import db
from models import Activity, Region, Signup, Team, TeamMember
from models.team import name_key
from services import rollups
from services.members import register_member


def _round(app, n, members, singles, capacity):
    """One round's rows: the activity, the team (the first member leads) and a token per member."""
    with app.app_context():
        stamp = f"{int(time.time() * 1000)}-{n}"
        community = Region(name=f"基准服务队社区{stamp}", kind="community", path="")
        db.session.add(community)
        db.session.flush()
        community.path = f"/{community.id}/"
        starts = utcnow() + timedelta(days=2)
        activity = Activity(community_id=community.id, title="基准服务队报名", category="environment",
                            starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=capacity,
                            confirmed_count=0, requires_signup=True, status="published")
        people = [register_member(openid=f"bench-team-{stamp}-{i}", name=f"队员{i}")
                  for i in range(members + singles)]
        db.session.add(activity)
        db.session.flush()
        team = Team(owner_community_id=community.id, name=f"基准服务队{stamp}", name_key=name_key(f"基准服务队{stamp}"),
                    join_policy="open", status="active", created_at=utcnow())
        db.session.add(team)
        db.session.flush()
        rollups.teams_changed(community.id, +1)
        db.session.add_all([TeamMember(team_id=team.id, member_id=p.id, status="active",
                                       role="leader" if i == 0 else "member", joined_at=utcnow())
                            for i, p in enumerate(people[:members])])
        ids = [p.id for p in people]
        db.session.commit()
        sessions = open_sessions(ids)
        tokens = {i: mint_access_token(i, sessions[i]) for i in ids}
        return activity.id, team.id, ids[:members], ids[members:], tokens


def _fire(base, activity_id, team_id, team_ids, single_ids, tokens):
    """The team's sign-up and every single sign-up released at once; ``(team answer, single answers, timings)``."""
    calls = [("team", team_ids[0])] + [("single", m) for m in single_ids]
    barrier = threading.Barrier(len(calls))
    answers, timings = [None] * len(calls), [None] * len(calls)

    def call(i):
        kind, member_id = calls[i]
        headers = {"Authorization": f"Bearer {tokens[member_id]}"}
        barrier.wait()
        started = time.perf_counter()
        if kind == "team":
            response = requests.post(f"{base}/api/v1/activities/{activity_id}/team-signups", headers=headers,
                                     json={"team_id": team_id, "member_ids": team_ids}, timeout=120)
        else:
            response = requests.post(f"{base}/api/v1/activities/{activity_id}/signups", headers=headers, timeout=120)
        timings[i] = (time.perf_counter() - started) * 1000
        answers[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return answers[0], answers[1:], timings


def _summary(samples):
    return {"n": len(samples), "p50_ms": round(percentile(samples, 50), 1), "p99_ms": round(percentile(samples, 99), 1),
            "max_ms": round(max(samples, default=0), 1)}


def run(app=None, database_url=None, members=50, singles=100, rounds=5, capacity=None):
    app = app or bench_app(database_url)
    capacity = capacity or (members + singles) * 2 // 3
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{server.server_port}"
    results, team_ms, single_ms = [], [], []
    try:
        for n in range(rounds):
            activity_id, team_id, team_ids, single_ids, tokens = _round(app, n, members, singles, capacity)
            (team_status, team_answer), single_answers, timings = _fire(base, activity_id, team_id, team_ids,
                                                                        single_ids, tokens)
            team_ms.append(timings[0])
            single_ms.extend(timings[1:])
            with app.app_context():
                confirmed = db.session.scalar(select(func.count()).select_from(Signup).where(
                    Signup.activity_id == activity_id, Signup.status == "confirmed"))
                signed = db.session.scalar(select(func.count()).select_from(Signup).where(
                    Signup.activity_id == activity_id))
                counter = db.session.get(Activity, activity_id).confirmed_count
            singles_confirmed = sum(1 for status, body in single_answers
                                    if status == 201 and body["status"] == "confirmed")
            team_confirmed = len(team_answer.get("confirmed", []))
            results.append({
                "team_status": team_status, "team_confirmed": team_confirmed,
                "team_waitlisted": len(team_answer.get("waitlisted", [])), "singles_confirmed": singles_confirmed,
                "singles_refused": sum(1 for status, _ in single_answers if status != 201),
                "confirmed_in_db": confirmed, "seat_counter": counter, "signups": signed,
                "exact": confirmed == counter == capacity == team_confirmed + singles_confirmed
                and signed == members + singles and team_status == 201})
    finally:
        server.shutdown()
    return {"members": members, "singles": singles, "capacity": capacity, "rounds": results,
            "all_exact": all(r["exact"] for r in results),
            "team_signup_ms": _summary(team_ms), "single_signup_ms": _summary(single_ms)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.teams")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--singles", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(database_url=args.database_url, members=args.members, singles=args.singles, rounds=args.rounds)
    json.dump(result, sys.stdout, indent=1, ensure_ascii=False, default=str)
    print()
    return 0 if result["all_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
