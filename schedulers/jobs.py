"""Imports every module that registers scheduled jobs."""

import schedulers.attendance_jobs  # noqa: F401
import schedulers.roster_jobs  # noqa: F401
import schedulers.stats_jobs  # noqa: F401
import schedulers.wish_jobs  # noqa: F401
