"""The scheduled jobs by name. A job is a plain function that calls services and commits its own work."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Job:
    name: str
    func: object
    trigger: str
    trigger_args: dict = field(default_factory=dict)
    description: str = ""


JOBS: dict[str, Job] = {}


def scheduled(name, trigger, **trigger_args):
    """Register a job; ``trigger`` and its arguments are APScheduler's (``interval``, ``cron``)."""

    def register(func):
        JOBS[name] = Job(name, func, trigger, trigger_args, (func.__doc__ or "").strip().splitlines()[0])
        return func

    return register


def all_jobs():
    import schedulers.jobs  # noqa: F401  (registers every job)

    return dict(sorted(JOBS.items()))
