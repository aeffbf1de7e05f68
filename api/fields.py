"""Fields shared by every schema, each strict about what it takes, so that no request reaches a service with a value
the database or the clock cannot hold. Each custom field is registered with the OpenAPI document's field mapping
(``register_fields``).

- ``Integer`` (and ``Id``): a JSON integer, or in a query string ASCII digits; never a float, a bool, a string in a
  body, Unicode digits or a trailing newline (``int()`` would take "１２" and "12\\n").
- ``Number``: a JSON number (never a string, a bool, NaN or an infinity).
- ``LocalDate`` and ``LocalDateTime``: within 2000-01-01 .. 2100-12-31 (local), so date arithmetic and the local-time
  conversion never meet their limits; a time without an offset is local time in TIMEZONE.
- ``Text``: what people write, trimmed; control characters (line breaks aside in multi-line text) and bidirectional
  overrides are refused, and so is text that is empty once trimmed.
"""

import re
import unicodedata
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from marshmallow import ValidationError, fields, validate

from clock import EARLIEST, LATEST, as_utc, local_zone, parse_clock, to_local
from models.types import MAX_ID

ASCII_INTEGER = re.compile(r"\A-?[0-9]{1,64}\Z")
# Explicit directional formatting characters (embeddings, overrides, isolates and marks): they reorder how text is
# shown, so a name or a title could display as something other than what it is.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class Integer(fields.Integer):
    """In a body, a JSON integer; in a query string (a schema the Blueprint marks ``from_query``), ASCII digits."""

    default_error_messages = {"invalid": "请输入整数"}

    def _validated(self, value):
        if isinstance(value, str) and getattr(self.parent, "from_query", False):
            if not ASCII_INTEGER.fullmatch(value):
                raise self.make_error("invalid")
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return value


def Id(**kwargs):  # noqa: N802  (reads like a field class in schemas)
    return Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def Year(**kwargs):  # noqa: N802
    return Integer(validate=validate.Range(EARLIEST.year, LATEST.year), **kwargs)


class Number(fields.Float):
    default_error_messages = {"invalid": "请输入数字", "special": "请输入有限的数字"}

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        try:
            return super()._validated(value)
        except OverflowError:
            raise self.make_error("special") from None


def _out_of_bounds(field):
    return field.make_error("bounds", earliest=EARLIEST.isoformat(), latest=LATEST.isoformat())


class LocalDate(fields.Date):
    default_error_messages = {"bounds": "日期须在 {earliest} 至 {latest} 之间"}

    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST <= day <= LATEST:
            raise _out_of_bounds(self)
        return day


class LocalDateTime(fields.DateTime):
    """ISO 8601 with an offset, shown in TIMEZONE; a request time without an offset is local time."""

    default_error_messages = {"bounds": "时间须在 {earliest} 至 {latest} 之间"}

    def _serialize(self, value, attr, obj, **kwargs):
        return to_local(value).isoformat() if value is not None else None

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        # Bounded before any conversion: near year 1 or 9999 the offset arithmetic itself overflows.
        if not EARLIEST <= moment.date() <= LATEST:
            raise _out_of_bounds(self)
        local = moment.astimezone(local_zone()) if moment.tzinfo else moment
        if not EARLIEST <= local.date() <= LATEST:
            raise _out_of_bounds(self)
        return as_utc(moment)


class Text(fields.String):
    default_error_messages = {"blank": "不能为空", "control": "不能包含控制字符或文字方向控制符"}

    def __init__(self, *, multiline=False, **kwargs):
        self.multiline = multiline
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise self.make_error("blank")
        allowed = "\n" if self.multiline else ""
        if any(c in BIDI_CONTROLS or (unicodedata.category(c) == "Cc" and c not in allowed) for c in text):
            raise self.make_error("control")
        return text


class Hours(fields.Field):
    """Hours as a JSON number with at most two decimal places; hours given in a request are more than zero."""

    default_error_messages = {"invalid": "请输入数字，最多两位小数", "range": "须大于 0，且不超过 10000"}

    def __init__(self, **kwargs):
        # Documented as a response sees them (a record closed at once holds 0 hours); a request's are checked below.
        kwargs.setdefault("metadata", {}).update({"multipleOf": 0.01, "minimum": 0})
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return float(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_DOWN))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not number.is_finite() or number != number.quantize(Decimal("0.01"), rounding=ROUND_DOWN):
            raise self.make_error("invalid")
        if number <= 0 or number > 10000:
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


class Pattern(validate.Regexp):
    """A regular expression the whole value must match: ``fullmatch``, so no final newline slips past ``$``, and the
    document shows the same ``^...$`` pattern a client can check."""

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def register_fields(api):
    """The OpenAPI type and format of each custom field."""
    api.register_field(Integer, "integer", None)
    api.register_field(Number, "number", None)
    api.register_field(LocalDate, "string", "date")
    api.register_field(LocalDateTime, "string", "date-time")
    api.register_field(Text, "string", None)
    api.register_field(Hours, "number", "decimal")
    api.register_field(ClockTime, "string", None)
