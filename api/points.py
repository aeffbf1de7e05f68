from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.fields import Integer, LocalDateTime
from api.pagination import PageArgs, page_of, paginate
from api.security import current_actor
from services import points

blp = Blueprint("points", __name__, url_prefix="/api/v1", description="Points (积分)")


class PointsEntrySchema(Schema):
    delta = Integer(required=True)
    reason = fields.String(required=True)
    ref = fields.String(required=True)
    at = LocalDateTime(required=True)


class PointsSchema(page_of(PointsEntrySchema)):
    balance = Integer(required=True, metadata={"description": "Always the sum of every entry"})


@blp.route("/me/points")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, PointsSchema)
def my_points(args):
    """The caller's balance and ledger entries, newest first. An approved hour earns 10, a completed wish 20;
    corrections and reversals are compensating entries."""
    member_id = current_actor().id
    return {"balance": points.balance(member_id), **paginate(points.ledger(member_id), args)}
