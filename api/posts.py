from flask_smorest import Blueprint

blp = Blueprint("posts", __name__, url_prefix="/api/v1", description="Duty posts and rosters (排班)")
