from flask_smorest import Blueprint

blp = Blueprint("certificates", __name__, url_prefix="/api/v1", description="Certificates (志愿服务证明)")
