"""Scheduled jobs (see schedulers/registry.py)."""
