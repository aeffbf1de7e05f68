"""The mixed-workload benchmark (bench/mixed.py) briefly at the tiny preset, against gunicorn with wrk: every endpoint
of the mix is hit, nothing fails, and the database holds the writes it acknowledged."""

import pytest

from bench import mixed
from bench.runtime import wrk_path
from bench.seed import PRESETS, seed
from extensions import db
from tests.conftest import DATABASE_URL

pytestmark = pytest.mark.skipif(wrk_path() is None, reason="needs wrk (apt-get install wrk)")


def test_the_schedule_holds_the_mix_in_every_hundred_lines():
    kinds = mixed.schedule(300)
    for start in (0, 100, 200):
        block = kinds[start:start + 100]
        assert {kind: block.count(kind) for kind in mixed.MIX} == mixed.MIX
    assert set(kinds[:40]) == set(mixed.MIX)


def test_the_mix_hits_every_endpoint_without_an_error(app):
    seed(PRESETS["tiny"])
    db.session.commit()
    result = mixed.run(DATABASE_URL, seconds=3, connections=4, members=PRESETS["tiny"].members, workers=2,
                       rounds=1, warmup=False)
    assert result["mix"]["errors"] == 0 and result["healthz"]["errors"] == 0, result["endpoints"]
    assert all(endpoint["n"] > 0 for endpoint in result["endpoints"].values()), result["endpoints"]
    assert result["writes"]["consistent"], result["writes"]
    assert result["writes"]["signups"]["acknowledged"] > 0 and result["ratio"] > 0
