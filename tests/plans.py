"""Query plans on PostgreSQL (EXPLAIN ANALYZE), for the tests that pin which index a read path uses."""

from extensions import db


def plan_nodes(node):
    """The node and every node below it."""
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def explain(statement):
    """The executed plan of a statement, as PostgreSQL's JSON."""
    compiled = statement.compile(db.engine, compile_kwargs={"render_postcompile": True})
    return db.session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), compiled.params).scalar()[0]["Plan"]


def reading(plan, table):
    """The nodes reading ``table`` or one of its indexes."""
    return [node for node in plan_nodes(plan) if node.get("Relation Name") == table
            or str(node.get("Index Name", "")).startswith((f"ix_{table}_", f"uq_{table}_"))]


def rows_read(plan, table):
    """Rows each node reading ``table`` (or one of its indexes) returned plus those it read and dropped."""
    return [node["Actual Rows"] + node.get("Rows Removed by Filter", 0) for node in reading(plan, table)]


def seq_scans(plan, table):
    return [n for n in plan_nodes(plan) if n.get("Node Type") == "Seq Scan" and n.get("Relation Name") == table]
