"""``stats ...``: the statistics rollups."""

import click
from flask.cli import with_appcontext

from services.database import unit_of_work


@click.group("stats")
def stats():
    """Statistics (the rollups behind /stats/overview)."""


@stats.command("rebuild")
@with_appcontext
def rebuild():
    """Recompute the rollups from the records, reports and shifts (after restoring a backup into an older
    schema, changing TIMEZONE, or editing records by hand); says how many rows had drifted. Approvals and
    corrections wait while it runs, a few seconds for a district."""
    from services import rollups

    with unit_of_work():
        result = rollups.rebuild()
    click.echo(f"rollups rebuilt; {result['changed']} rows differed")
