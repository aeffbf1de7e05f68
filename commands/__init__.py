"""The command line: ``flask --app wsgi ...``."""

import click
from flask.cli import with_appcontext

from errors import DomainError
from services.database import unit_of_work


def register_commands(app):
    from commands import jobs
    from commands.certificates import certificates
    from commands.stats import stats

    app.cli.add_command(create_admin)
    app.cli.add_command(seed_demo)
    app.cli.add_command(serve)
    app.cli.add_command(certificates)
    app.cli.add_command(stats)
    app.cli.add_command(calendar)
    jobs.register(app)


@click.command("create-admin")
@click.argument("username")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--name", default=None)
@with_appcontext
def create_admin(username, password, name):
    """Create a sysadmin account."""
    from services.staff import create_sysadmin

    if len(password) < 8:
        raise click.BadParameter("at least 8 characters", param_hint="--password")
    try:
        with unit_of_work():
            user = create_sysadmin(username, password, name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"sysadmin {user.username} created (id {user.id})")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has data.")
@click.option("--reset", is_flag=True, help="Drop every table first and migrate afresh (make demo-reset).")
@with_appcontext
def seed_demo(if_empty, reset):
    """Fill the database with a small demo district (refused in production)."""
    from flask import current_app

    from demo import database_is_empty, seed

    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("seed-demo is refused in production")
    if reset:
        drop_everything_and_migrate()
    if if_empty and not database_is_empty():
        click.echo("database already has data; demo not seeded")
        return
    with unit_of_work():
        summary = seed()
    click.echo("demo seeded: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    click.echo("sign in as demo / demo12345")


def drop_everything_and_migrate():
    """Every table of the database dropped (the migrations' own included), then the schema made afresh."""
    from flask_migrate import upgrade
    from sqlalchemy import MetaData

    from extensions import db

    existing = MetaData()
    existing.reflect(bind=db.engine)
    existing.drop_all(bind=db.engine)
    db.engine.dispose()
    upgrade()
    click.echo(f"dropped {len(existing.tables)} tables and migrated afresh")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="Default: PORT, else 5000.")
@with_appcontext
def serve(host, port):
    """The development server; with SCHEDULER_ENABLED the scheduler runs inside it (never under gunicorn)."""
    from flask import current_app
    from werkzeug.serving import run_simple

    app = current_app._get_current_object()
    port = port or app.config["PORT"]
    if app.config["SCHEDULER_ENABLED"]:
        from schedulers.runner import start_in_process

        start_in_process(app)
    run_simple(host, port, app, threaded=True, use_reloader=False)


@click.command("calendar")
@click.argument("year", type=click.IntRange(2000, 2100))
@with_appcontext
def calendar(year):
    """Which official calendar decides YEAR's rosters, with its holidays and make-up workdays."""
    from services.holidays import calendar_of, in_file

    source, holidays, workdays = calendar_of(year)
    if source is None:
        click.echo(f"{year}: no official calendar; plain weekdays (Monday to Friday) are working days. "
                   f"When the State Council publishes it, enter it with PUT /api/v1/calendar/{year} "
                   "(or add the year to HOLIDAY_CALENDAR_FILE).")
        return
    origin = {"database": f"the database (PUT /api/v1/calendar/{year})", "file": "HOLIDAY_CALENDAR_FILE",
              "package": "the chinese_calendar library"}[source]
    click.echo(f"{year}: official calendar from {origin}")
    if source == "database" and in_file(year):
        click.echo("(HOLIDAY_CALENDAR_FILE also lists the year; the database entry wins)")
    click.echo("holidays: " + (", ".join(d.isoformat() for d in sorted(holidays)) or "none"))
    click.echo("make-up workdays: " + (", ".join(d.isoformat() for d in sorted(workdays)) or "none"))
