"""Fields shared by every schema: ids, local-time datetimes, local clock times and hours. Each custom field is
registered with the OpenAPI document's field mapping (``register_fields``)."""

from decimal import ROUND_DOWN, Decimal, InvalidOperation

from marshmallow import fields, validate

from clock import as_utc, parse_clock, to_local
from models.types import MAX_ID


class LocalDateTime(fields.DateTime):
    """ISO 8601 with an offset, shown in TIMEZONE; a request time without an offset is local time."""

    def _serialize(self, value, attr, obj, **kwargs):
        return to_local(value).isoformat() if value is not None else None

    def _deserialize(self, value, attr, data, **kwargs):
        return as_utc(super()._deserialize(value, attr, data, **kwargs))


class Hours(fields.Field):
    """Hours as a JSON number with at most two decimal places."""

    default_error_messages = {"invalid": "请输入数字，最多两位小数", "range": "不能为负数，且不超过 10000"}

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("multipleOf", 0.01)
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return float(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_DOWN))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self.make_error("invalid")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not number.is_finite() or number != number.quantize(Decimal("0.01"), rounding=ROUND_DOWN):
            raise self.make_error("invalid")
        if number < 0 or number > 10000:
            raise self.make_error("range")
        return number


class ClockTime(fields.String):
    """A local time of day, ``HH:MM`` (00:00 to 23:59), kept as written."""

    default_error_messages = {"invalid": "时间格式应为 HH:MM"}

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("pattern", r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if parse_clock(value) is None:
            raise self.make_error("invalid")
        return value


def Id(**kwargs):  # noqa: N802  (reads like a field class in schemas)
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def register_fields(api):
    """The OpenAPI type and format of each custom field."""
    api.register_field(LocalDateTime, "string", "date-time")
    api.register_field(Hours, "number", "decimal")
    api.register_field(ClockTime, "string", None)
