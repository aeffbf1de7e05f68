"""deploy/'s systemd units, checked by systemd itself (``systemd-analyze verify``) with their paths pointed at this
checkout: every directive known and well-formed, every program they start present and executable."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT

UNITS = ("baodao-web.service", "baodao-scheduler.service")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")

if SYSTEMD_ANALYZE is None:
    pytest.skip("needs systemd-analyze (Debian's systemd package)", allow_module_level=True)


def test_the_units_verify_with_systemd(tmp_path):
    venv = Path(sys.executable).parent.parent
    for name in UNITS:
        text = (ROOT / "deploy" / name).read_text()
        assert "/opt/baodao/.venv/bin/" in text and "WorkingDirectory=/opt/baodao" in text
        text = text.replace("/opt/baodao/.venv", str(venv)).replace("/opt/baodao", str(ROOT))
        (tmp_path / name).write_text(text)
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", *(str(tmp_path / name) for name in UNITS)],
                            capture_output=True, text=True, timeout=60)
    # A wrong value is only a warning to systemd, with exit status 0: any word about our units is a failure.
    said = [line for line in (result.stdout + result.stderr).splitlines() if "baodao" in line]
    assert result.returncode == 0 and not said, result.stdout + result.stderr


def test_the_units_run_what_the_readme_runs():
    web = (ROOT / "deploy" / "baodao-web.service").read_text()
    scheduler = (ROOT / "deploy" / "baodao-scheduler.service").read_text()
    assert "ExecStart=/opt/baodao/.venv/bin/gunicorn --bind 0.0.0.0:8000 wsgi:app" in web
    assert "ExecStart=/opt/baodao/.venv/bin/flask --app wsgi scheduler" in scheduler
    for unit in (web, scheduler):
        assert "EnvironmentFile=/etc/baodao/baodao.env" in unit
        assert "PROMETHEUS_MULTIPROC_DIR=/run/baodao/metrics" in unit
