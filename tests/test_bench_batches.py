"""The big-batch benchmarks (bench/batches.py) on the seeder's tiny preset: what they measure is what they claim."""

from bench import batches
from bench.seed import PRESETS, seed
from extensions import db
from models import BackgroundJob


def test_bulk_approval_benchmark_approves_credits_and_counts_once(app, client):
    seed(PRESETS["tiny"])
    db.session.commit()
    result = batches.bulk_approval(app, records=40)
    assert result["records"] == result["approved"] == result["records_approved_in_db"] == 40
    assert result["points_entries"] == 40 and result["rollups_equal_recomputation"] is True
    assert 0 < result["statements"] < 60 and result["seconds"] > 0


def test_background_benchmarks_run_their_jobs_to_the_end(app, client):
    seed(PRESETS["tiny"])
    db.session.commit()
    certificates = batches.street_certificates(app)
    assert certificates["jobs_done"] == certificates["communities"] == 2
    assert certificates["certificates"] > 0 and certificates["ms_per_certificate"] > 0
    export = batches.district_export(app)
    assert export["status"] == "done" and export["rows"] > 0
    assert db.session.query(BackgroundJob).filter(BackgroundJob.status != "done").count() == 0
