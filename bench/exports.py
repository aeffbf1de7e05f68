"""Export of service records as CSV and XLSX at 1,000,000 rows (and at a tenth of that, to show the memory stays
flat as rows grow): time, bytes and the process's peak resident set during each export, through the same service
functions the endpoint streams (``services.exports``), as a district admin.

Before those, the time to the first chunk of a CSV export (its header and the first ~400 rows, what a client sees
first) for a district admin's, a street admin's and one community's export, run as the endpoint runs them: the whole
query with no LIMIT, streamed, and abandoned after the first chunk.

    python -m bench.exports [--database-url URL] [--rows 1000000] [--formats csv xlsx] [--first-chunk-only]
                            [--explain]
"""

import argparse
import json
import os
import sys
import time

from sqlalchemy import event, select

from bench.runtime import bench_app, rss_sampler
from extensions import db
from models import Region, RoleAssignment, ServiceRecord
from services import exports
from services.authz import Actor

GOAL_MB = 200


def _actor(role):
    user_id = db.session.scalar(select(RoleAssignment.user_id).where(RoleAssignment.role == role))
    return Actor(user_id) if user_id is not None else None


def _district_admin():
    return _actor("district_admin")


def export_csv(query, timing):
    size = 0
    started = time.perf_counter()
    for chunk in exports.csv_chunks(query):
        if not size:
            timing["first_chunk_seconds"] = round(time.perf_counter() - started, 3)
        size += len(chunk)
    return size


def export_xlsx(query, timing):
    path = exports.write_xlsx(query)
    try:
        return os.path.getsize(path)
    finally:
        os.unlink(path)


def measure(query, rows, fmt):
    write = export_csv if fmt == "csv" else export_xlsx
    timing = {}
    with rss_sampler() as memory:
        started = time.perf_counter()
        size = write(query.limit(rows), timing)
        seconds = time.perf_counter() - started
    db.session.rollback()
    return {"format": fmt, "rows": rows, "seconds": round(seconds, 1), "rows_per_second": int(rows / seconds),
            **timing, "bytes": size, "rss_start_mb": memory["start_mb"], "rss_peak_mb": memory["peak_mb"],
            "meets_goal": memory["peak_mb"] < GOAL_MB}


def _cursor_plan(statement, parameters):
    """The plan PostgreSQL picks for the export as the endpoint runs it: a server-side cursor (``yield_per``), which
    is planned for its first rows (``cursor_tuple_fraction``), not as a plain SELECT."""
    rows = db.session.connection().exec_driver_sql("EXPLAIN DECLARE export_plan CURSOR FOR " + statement, parameters)
    return [row[0] for row in rows]


def first_chunk(actor, label, explain=False, **filters):
    """Seconds to the first CSV chunk of the whole export (no LIMIT: the plan the endpoint gets)."""
    query = exports.export_query(actor, **filters)
    captured = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        started = time.perf_counter()
        chunks = exports.csv_chunks(query)
        chunk = next(chunks)
        seconds = time.perf_counter() - started
        chunks.close()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    db.session.rollback()
    result = {"scope": label, "first_chunk_seconds": round(seconds, 3), "first_chunk_bytes": len(chunk)}
    if explain and db.engine.dialect.name == "postgresql":
        result["plan"] = _cursor_plan(*next(c for c in captured if "service_records" in c[0]))
        db.session.rollback()
    return result


def first_chunks(explain=False):
    district = _district_admin()
    community_id = db.session.scalar(select(ServiceRecord.community_id).order_by(ServiceRecord.id).limit(1))
    results = [first_chunk(district, "district admin, whole district", explain),
               first_chunk(district, f"district admin, community_id={community_id}", explain,
                           community_id=community_id)]
    street = _actor("street_admin")
    if street is not None:
        results.append(first_chunk(street, "street admin, whole street", explain))
    community = db.session.scalar(select(Region.id).where(Region.kind == "community").order_by(Region.id))
    results.append(first_chunk(district, f"district admin, community_id={community}, status=approved", explain,
                               community_id=community, status="approved"))
    return results


def run(database_url=None, rows=1_000_000, formats=("csv", "xlsx"), first_chunk_only=False, explain=False):
    app = bench_app(database_url)
    results = []
    with app.app_context():
        results.extend(first_chunks(explain))
        if first_chunk_only:
            return results
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
    parser.add_argument("--first-chunk-only", action="store_true",
                        help="only the time to the first CSV chunk of each scope's whole export")
    parser.add_argument("--explain", action="store_true",
                        help="with each first chunk, the plan of its cursor (PostgreSQL EXPLAIN DECLARE)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.database_url, args.rows, args.formats, args.first_chunk_only, args.explain), indent=1,
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
