"""Export of service records as CSV and XLSX at 1,000,000 rows (and at a tenth of that, to show the memory stays
flat as rows grow): time, bytes and the process's peak resident set during each export, through the same service
functions the endpoint streams (``services.exports``), as a district admin.

    python -m bench.exports [--database-url URL] [--rows 1000000]
"""

import argparse
import json
import os
import sys
import time

from sqlalchemy import select

from bench.runtime import bench_app, rss_sampler
from extensions import db
from models import RoleAssignment, User
from services import exports
from services.authz import Actor

GOAL_MB = 200


def _district_admin():
    user_id = db.session.scalar(select(RoleAssignment.user_id).where(RoleAssignment.role == "district_admin"))
    return Actor(db.session.get(User, user_id))


def export_csv(query):
    size = 0
    for chunk in exports.csv_chunks(query):
        size += len(chunk)
    return size


def export_xlsx(query):
    path = exports.write_xlsx(query)
    try:
        return os.path.getsize(path)
    finally:
        os.unlink(path)


def measure(query, rows, fmt):
    write = export_csv if fmt == "csv" else export_xlsx
    with rss_sampler() as memory:
        started = time.perf_counter()
        size = write(query.limit(rows))
        seconds = time.perf_counter() - started
    db.session.rollback()
    return {"format": fmt, "rows": rows, "seconds": round(seconds, 1), "rows_per_second": int(rows / seconds),
            "bytes": size, "rss_start_mb": memory["start_mb"], "rss_peak_mb": memory["peak_mb"],
            "meets_goal": memory["peak_mb"] < GOAL_MB}


def run(database_url=None, rows=1_000_000, formats=("csv", "xlsx")):
    app = bench_app(database_url)
    results = []
    with app.app_context():
        query = exports.export_query(_district_admin())
        for fmt in formats:
            for n in (rows // 10, rows):
                results.append(measure(query, n, fmt))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.exports")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", nargs="*", default=["csv", "xlsx"])
    args = parser.parse_args(argv)
    print(json.dumps(run(args.database_url, args.rows, args.formats), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
