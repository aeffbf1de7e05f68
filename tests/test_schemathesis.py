"""Property-based fuzzing of every operation in the app's own OpenAPI document, signed in as a sysadmin:
no request gets a 500, and every response matches what the document says about it.

Deterministic (``derandomize``) and bounded (a few examples per operation), so it runs in CI. One test walks all
operations and reports every failing one at once, with the request that broke it.
"""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from extensions import db
from tests.factories import auth, make_member, make_report, make_staff, make_unit, region_tree

EXAMPLES_PER_OPERATION = 4
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Logging out would revoke the token that every later example signs in with.
SKIPPED = {"POST /api/v1/auth/logout"}


def fuzz(operation, headers):
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    def run(case):
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        finally:
            # Requests share this test's app context (and session); in production each has its own, removed at
            # teardown, so one crashed request must not poison the next here either.
            db.session.rollback()

    run()


def test_no_operation_crashes_or_breaks_its_documented_schema(app):
    tree = region_tree()
    unit = make_unit(tree["a1"])
    make_report(make_member(unit=unit), tree["a1"])
    headers = auth(make_staff("sysadmin"))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)

    tried, failures = 0, {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED:
            continue
        tried += 1
        try:
            fuzz(operation, headers)
        except (Exception, BaseExceptionGroup) as exc:  # collected, then all reported together
            failures[operation.label] = str(exc)[:1200]

    assert tried > 50
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
