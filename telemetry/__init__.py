"""What operations see of a running baodao: logs (logs.py), Prometheus metrics (metrics.py), readiness
(readiness.py) and error reports to Sentry (sentry.py). Nothing here knows the domain."""
