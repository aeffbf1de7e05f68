"""``python -m bench`` (``make bench``): every benchmark in turn, results as JSON in ``bench/results.json``.

The database is ``BENCH_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1/baodao_bench``); it is seeded
first unless ``--no-seed`` (``--preset small`` or ``tiny`` for a quick run). A benchmark whose tool is missing
(wrk) says how to install it and the others still run.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench import (
    appeals,
    batches,
    certificates,
    checkins,
    exports,
    governance,
    instructions,
    mixed,
    reads,
    rosters,
    teams,
)
from bench.runtime import WRK_MISSING, bench_app, bench_database_url, wrk_path
from bench.seed import PRESETS, analyze, seed
from extensions import db

RESULTS = Path(__file__).with_name("results.json")


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    return {"date": datetime.now().astimezone().isoformat(timespec="seconds"), "nproc": os.cpu_count(),
            "cpu": cpu, "free_h": memory, "load_average": os.getloadavg(), "python": platform.python_version()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="city")
    parser.add_argument("--no-seed", action="store_true", help="use the data already in the database")
    parser.add_argument("--seconds", type=int, default=10, help="of scans, and as many of /healthz, per check-in run")
    args = parser.parse_args(argv)
    url = bench_database_url(args.database_url)
    results = {"machine": machine(), "database": url.rsplit("@", 1)[-1], "preset": args.preset}

    def step(name, function):
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            results[name] = function()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            results[name] = {"failed": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(results[name], indent=1, ensure_ascii=False, default=str)[:4000], flush=True)
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)

    if not args.no_seed:
        def reseed():
            app = bench_app(url)
            with app.app_context():
                db.drop_all()
                db.create_all()
                seeded = seed(PRESETS[args.preset])
                analyze()
            return {"seconds": round(seeded.seconds, 1), "counts": seeded.counts}

        step("seed", reseed)
    if wrk_path() is None:
        print(WRK_MISSING, flush=True)
    # Every scan is a distinct member's first: as many as the preset has, up to 20,000.
    scanners = min(20_000, PRESETS[args.preset].members)
    step("checkins_postgresql", lambda: checkins.run(url, seconds=args.seconds, members=scanners))
    # The same at a post during a shift: a bin station's static token, the daily path of duty volunteers.
    step("checkins_post_postgresql", lambda: checkins.run(url, seconds=args.seconds, members=scanners, at="post"))
    # The same over persistent connections: wrk opens them all at once and one worker may take most of them, so
    # /healthz swings between runs (BENCHMARKS.md); kept to show it, not as the headline figure.
    step("checkins_postgresql_keep_alive",
         lambda: checkins.run(url, seconds=args.seconds, members=scanners, keep_alive=True))
    # It warms up with 20 more members than it counts.
    step("checkin_instructions", lambda: instructions.run(url, requests=min(100, scanners - 20)))
    # The mini-program's Saturday morning: reads, sign-ups, claims and first scans of distinct members.
    step("mixed", lambda: mixed.run(url, seconds=2 * args.seconds, members=PRESETS[args.preset].members))
    step("checkins_sqlite", lambda: checkins.run(checkins.sqlite_database(20_000), seconds=args.seconds))
    step("reads", lambda: reads.run(url))
    step("appeals", lambda: appeals.run(url))
    step("team_signups", lambda: teams.run(database_url=url))
    step("governance", lambda: governance.run(url))
    step("rosters", lambda: rosters.run(url))
    step("exports", lambda: exports.run(url))
    step("certificates", lambda: certificates.run(url))
    step("batches", lambda: batches.run(url))
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    print(f"results written to {RESULTS}; summarise them in BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
