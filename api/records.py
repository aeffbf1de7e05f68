from flask_smorest import Blueprint

blp = Blueprint("records", __name__, url_prefix="/api/v1", description="Service records (服务时长)")
