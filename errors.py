"""Domain errors. Services raise these; api/errors.py turns them into the contract's envelope."""


class DomainError(Exception):
    status = 400
    default_code = "bad_request"
    default_message = "请求有误"

    def __init__(self, code=None, message=None, details=None, headers=None):
        self.code = code or self.default_code
        self.message = message or self.default_message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.code)


class BadRequest(DomainError):
    status = 400


class Unauthorized(DomainError):
    status = 401
    default_code = "unauthorized"
    default_message = "请先登录"


class Forbidden(DomainError):
    status = 403
    default_code = "forbidden"
    default_message = "没有权限"


class NotFound(DomainError):
    status = 404
    default_code = "not_found"
    default_message = "未找到"


class Conflict(DomainError):
    status = 409
    default_code = "conflict"
    default_message = "状态冲突"


class TooManyRequests(DomainError):
    status = 429
    default_code = "rate_limited"
    default_message = "请求过于频繁，请稍后再试"


class ValidationFailed(DomainError):
    """A rule on one or more fields; ``details`` maps each field to its messages."""

    status = 422
    default_code = "validation_failed"
    default_message = "数据校验未通过"

    def __init__(self, field_errors, message=None):
        details = {field: msgs if isinstance(msgs, list) else [msgs] for field, msgs in field_errors.items()}
        super().__init__(message=message, details=details)


class ContentRejected(ValidationFailed):
    """WeChat's content security found a field's text risky (422 ``content_rejected`` naming the field)."""

    default_code = "content_rejected"
    default_message = "内容含有不适宜公开的信息，请修改后再提交"


class TooLarge(DomainError):
    status = 413
    default_code = "too_large"
    default_message = "文件过大"


class ServiceUnavailable(DomainError):
    status = 503
    default_code = "service_unavailable"
    default_message = "服务暂不可用"


class Unprocessable(DomainError):
    """422 with a code of its own, for a rule that is not about one field's form (``phone_not_mainland`` ...)."""

    status = 422
    default_code = "validation_failed"
    default_message = "数据校验未通过"


class BadGateway(DomainError):
    """WeChat answered, but with an errcode (after the one renewal of the access token)."""

    status = 502
    default_code = "wechat_error"
    default_message = "微信服务返回错误，请稍后再试"
