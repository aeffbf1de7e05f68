"""CPU instructions per request, counted by valgrind (callgrind): a first check-in scan against ``/healthz``, or with
``--mix`` each kind of request of the mixed workload (bench/mixed.py) against ``/healthz``.

Wall-clock throughput on a shared 2-core machine swings by 30 % between runs; an instruction count does not depend
on what else the machine is doing, so it is the figure to compare before and after a change to the hot path. The
requests go through the whole app in-process (Flask test client: routing, JWT, schemas, SQL); only this Python
process is counted (PostgreSQL's own work is not). Needs valgrind (``sudo apt-get install -y valgrind``).

    python -m bench.instructions [--database-url URL] [--requests 100] [--mix]

With ``--mix`` the answer holds millions of instructions per request of each kind and of the mix (weighted by
``bench.mixed.MIX``). A kind's count depends on the data: a page of activities or open wishes costs by its items, and
every run of bench.mixed adds activities and open wishes to the bench database, so compare two versions of the code
one after the other on the same database, never with figures of another day.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.runtime import bench_database_url

SUMMARY = re.compile(r"^summary: (\d+)", re.MULTILINE)
VALGRIND_MISSING = "valgrind is not installed: `sudo apt-get install -y valgrind`"


def measured_process(database_url, requests):
    """Inside valgrind: warm up, then zero the counters, ``requests`` first scans, dump, ``requests`` /healthz, dump."""
    from bench.checkins import prepare
    from bench.runtime import bench_app

    app = bench_app(database_url, QR_ROTATE_SECONDS=3600)
    client = app.test_client()
    _place, lines = prepare(app, requests + 20)
    scans = [line.rstrip("\n").split("\t") for line in lines.read_text().splitlines()]
    lines.unlink()

    def scan(i):
        token, body = scans[i]
        response = client.post("/api/v1/checkins", data=body,
                               headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert response.status_code == 201, response.get_data(as_text=True)

    def callgrind(flag):
        subprocess.run(["callgrind_control", flag, str(os.getpid())], check=True, capture_output=True)

    for i in range(20):
        scan(i)
        client.get("/healthz")
    callgrind("-z")
    for i in range(20, 20 + requests):
        scan(i)
    callgrind("-d")
    for _ in range(requests):
        assert client.get("/healthz").status_code == 200
    callgrind("-d")


def measured_mix(database_url, requests):
    """Inside valgrind: warm every kind up, zero the counters, then ``requests`` of each kind of ``MIX`` and of
    /healthz, a dump after each kind."""
    from bench.mixed import MIX, prepare
    from bench.runtime import bench_app

    app = bench_app(database_url, QR_ROTATE_SECONDS=3600)
    client = app.test_client()
    _targets, lines = prepare(app, (requests + 10) * 100 // min(MIX.values()) + 100)
    by_kind = {kind: [] for kind in MIX}
    for line in lines.read_text().splitlines():
        kind, method, path, token, body = line.split("\t")
        by_kind[kind].append((method, path, token, body))
    lines.unlink()

    def send(method, path, token, body):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        response = client.open(path, method=method, data=body or None, headers=headers)
        assert response.status_code < 300, (path, response.status_code, response.get_data(as_text=True))

    def callgrind(flag):
        subprocess.run(["callgrind_control", flag, str(os.getpid())], check=True, capture_output=True)

    for kind in MIX:
        for request in by_kind[kind][:10]:
            send(*request)
    for _ in range(5):
        client.get("/healthz")
    callgrind("-z")
    for kind in MIX:
        for request in by_kind[kind][10:10 + requests]:
            send(*request)
        callgrind("-d")
    for _ in range(requests):
        assert client.get("/healthz").status_code == 200
    callgrind("-d")


def _counted(database_url, requests, mix):
    """The measured process's instruction counts, one per dump, in order."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "callgrind.out"
        measured = subprocess.run(
            ["valgrind", "--tool=callgrind", "--dump-instr=no", f"--callgrind-out-file={out}.%p", sys.executable,
             "-m", "bench.instructions", "--measured", "--database-url", database_url, "--requests", str(requests),
             *(["--mix"] if mix else [])],
            capture_output=True, text=True)
        if measured.returncode != 0:
            last_lines = [line for line in measured.stderr.splitlines() if not line.startswith("==")][-3:]
            raise RuntimeError("the measured process failed: " + " | ".join(last_lines))
        dumps = sorted(Path(directory).glob("callgrind.out.*.*"), key=lambda path: int(path.suffix[1:]))
        return [int(SUMMARY.search(path.read_text())[1]) for path in dumps]


def run(database_url=None, requests=100, mix=False):
    if shutil.which("valgrind") is None:
        return {"skipped": VALGRIND_MISSING}
    database_url = bench_database_url(database_url)
    counts = _counted(database_url, requests, mix)
    if mix:
        from bench.mixed import MIX

        millions = {kind: round(count / requests / 1e6, 2) for kind, count in zip([*MIX, "healthz"], counts,
                                                                                   strict=True)}
        weighted = sum(millions[kind] * share for kind, share in MIX.items()) / sum(MIX.values())
        return {"requests_per_kind": requests, "million_instructions": millions, "mix": round(weighted, 2),
                "ratio": round(millions["healthz"] / weighted, 3)}
    # Dumps are numbered in order: the first holds the scans, the second the /healthz requests.
    per_scan, per_health = counts[0] / requests, counts[1] / requests
    return {"requests": requests, "scan_instructions": round(per_scan), "healthz_instructions": round(per_health),
            "ratio": round(per_health / per_scan, 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.instructions")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--mix", action="store_true", help="each kind of request of bench.mixed, not scans")
    parser.add_argument("--measured", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measured:
        (measured_mix if args.mix else measured_process)(args.database_url, args.requests)
        return 0
    print(json.dumps(run(args.database_url, args.requests, args.mix), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
