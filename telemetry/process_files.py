"""The files of prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``), kept by gunicorn's master
(gunicorn.conf.py) and the scheduler. Only prometheus_client is imported here: gunicorn's master loads no app."""

import os
import re
from pathlib import Path

from prometheus_client import multiprocess

# Files prometheus_client writes per process: <kind>_<pid>.db (a gauge's kind carries its mode, gauge_livesum_12.db).
PROCESS_FILE = re.compile(r"_(\d+)\.db$")


def remove_dead_process_files(directory):
    """Delete the files of processes that are gone (a worker of an earlier gunicorn, an old scheduler), keeping
    those of live ones: a scheduler that shares the directory keeps its counts when gunicorn restarts."""
    for path in Path(directory).glob("*.db"):
        match = PROCESS_FILE.search(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)


def forget_dead_live_gauges(directory):
    """The live gauges (the scheduler's leadership) of processes that died without saying so (SIGKILL, a crash)
    stop counting: read at each scrape, before the files are added up."""
    for path in Path(directory).glob("gauge_live*.db"):
        match = PROCESS_FILE.search(path.name)
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), directory)


def mark_process_dead(pid):
    """A process has exited: its live gauges stop counting (its counters stay: totals never go back)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        multiprocess.mark_process_dead(pid, directory)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
