"""1,000 certificates in batches: the same path as ``POST /certificates/batch`` (``prepare_batch`` then
``write_batch_zip``: issue, snapshot, render each PDF with its QR code, zip), over as many communities as it takes
to reach the count, for the whole seeded period. Reports time per certificate and the zip size.

    python -m bench.certificates [--database-url URL] [--count 1000]
"""

import argparse
import json
import sys
import tempfile
import time
from datetime import date

from sqlalchemy import delete, select

from bench.runtime import bench_app, rss_sampler
from clock import local_today
from extensions import db
from models import Certificate, Region
from services.certificates import prepare_batch, write_batch_zip


def run(database_url=None, count=1000):
    app = bench_app(database_url)
    with app.app_context():
        db.session.execute(delete(Certificate))
        db.session.commit()
        today = local_today()
        period = (date(today.year - 1, 1, 1), today)
        communities = list(db.session.scalars(select(Region.id).where(Region.kind == "community").order_by(Region.id)))
        issued, zipped, seconds = 0, 0, 0.0
        with rss_sampler() as memory:
            for community_id in communities:
                if issued >= count:
                    break
                batch = prepare_batch(None, issuer_id=community_id, period_from=period[0], period_to=period[1])
                batch.member_ids = batch.member_ids[:count - issued]
                with tempfile.TemporaryFile() as archive:
                    started = time.perf_counter()
                    issued += write_batch_zip(batch, archive)
                    seconds += time.perf_counter() - started
                    zipped += archive.tell()
    return {"certificates": issued, "seconds": round(seconds, 1),
            "ms_per_certificate": round(seconds * 1000 / max(issued, 1), 1), "zip_bytes": zipped,
            "rss_peak_mb": memory["peak_mb"]}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.certificates")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.database_url, args.count), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
