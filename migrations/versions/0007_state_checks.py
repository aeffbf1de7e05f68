"""state checks and shift assignments that follow the scans

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:00:00.000000

Every state machine's column gets a CHECK constraint holding it to its states (the enums on the models). Seats of
people who already scanned in at a shift move to the states the scans now set: ``attended`` when the attendance was
closed, ``checked_in`` while it is open (they stayed ``assigned`` before).

On PostgreSQL each constraint is added NOT VALID and then validated, so the table is not locked against writes while
its rows are checked; SQLite rebuilds the table (batch mode).
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# (table, column, states) as they are when this migration is written.
CHECKS = (
    ("reports", "status", ("pending", "approved", "rejected", "withdrawn")),
    ("activities", "status", ("published", "cancelled")),
    ("signups", "status", ("confirmed", "waitlisted", "cancelled")),
    ("shift_assignments", "status", ("assigned", "standin_requested", "checked_in", "attended", "no_show",
                                     "declined", "replaced")),
    ("service_records", "status", ("pending", "approved", "rejected")),
    ("service_records", "source", ("checkin", "auto_closed", "manual")),
    ("correction_requests", "status", ("pending", "accepted", "declined")),
    ("wishes", "status", ("open", "claimed", "fulfilled", "completed", "cancelled")),
    ("needs", "status", ("open", "matched", "met")),
    ("projects", "status", ("proposed", "approved", "in_progress", "done")),
    ("outbound_messages", "status", ("pending", "sending", "sent", "failed")),
)


def _condition(column, states):
    return f"{column} in ({', '.join(repr(state) for state in states)})"


def upgrade():
    op.execute("""
        UPDATE shift_assignments SET status = CASE
            WHEN EXISTS (SELECT 1 FROM attendances a WHERE a.shift_id = shift_assignments.shift_id
                         AND a.member_id = shift_assignments.member_id AND a.checked_out_at IS NULL)
            THEN 'checked_in' ELSE 'attended' END
        WHERE status IN ('assigned', 'standin_requested')
          AND EXISTS (SELECT 1 FROM attendances a WHERE a.shift_id = shift_assignments.shift_id
                      AND a.member_id = shift_assignments.member_id)
    """)
    if op.get_bind().dialect.name == "postgresql":
        for table, column, states in CHECKS:
            name = f"ck_{table}_{column}"
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({_condition(column, states)}) NOT VALID")
            op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
        return
    for table in dict.fromkeys(table for table, _, _ in CHECKS):
        with op.batch_alter_table(table) as batch_op:
            for checked, column, states in CHECKS:
                if checked == table:
                    batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), _condition(column, states))


def downgrade():
    for table in dict.fromkeys(table for table, _, _ in CHECKS):
        with op.batch_alter_table(table) as batch_op:
            for checked, column, _ in CHECKS:
                if checked == table:
                    batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
