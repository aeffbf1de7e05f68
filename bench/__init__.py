"""Benchmarks: ``python -m bench`` (``make bench``) runs them all; results go to BENCHMARKS.md.

Fixed development secrets are set here, before the app is imported, so that a gunicorn started by a benchmark and
the benchmark process itself sign and verify the same tokens. They are for benchmark databases only.
"""

import os
import tempfile

os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="baodao-bench-"))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
os.environ.setdefault("JWT_SECRET_KEY", "bench-jwt-secret-key-not-for-production-0123456789")
os.environ.setdefault("PII_ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
os.environ.setdefault("SCHEDULER_ENABLED", "false")
