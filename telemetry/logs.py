"""Logs: plain text in development, one JSON object per line in production (``LOG_FORMAT``), each line written
while a request is served carrying its request id, and nothing that opens a door or names a person.

Two kinds of path segment are keys, not names: the signed screen link (``/screen/<signed>``: whoever reads it can
open the organiser's screen) and a certificate's verify code (``/certificates/verify/<code>``). Both formatters
redact them, and query strings, from every line they write: the app's own, werkzeug's request lines in
development, and gunicorn's access and error logs (``GunicornLogger``, named in gunicorn.conf.py).
"""

import json
import logging
import os
import re
from datetime import UTC, datetime

from flask import g, has_app_context
from gunicorn import glogging

from config import log_format

# A key in a path: everything after /screen/ or /certificates/verify/ up to the next separator.
SECRET_SEGMENT = re.compile(r"(/screen/|/certificates/verify/)[^/\s?\"'#]+")
# A query string after a path (a search term, a token): dropped whole.
QUERY_STRING = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")
REDACTED = "[redacted]"
# What a request's access line adds to its JSON object (GunicornLogger.access).
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "bytes")


def redact(text):
    """The text with every screen link, verify code and query string in it replaced by ``[redacted]``."""
    text = SECRET_SEGMENT.sub(r"\1" + REDACTED, text)
    return QUERY_STRING.sub(r"\1?" + REDACTED, text)


class RequestIdFilter(logging.Filter):
    """Adds the request id (api/errors.py, ``g.request_id``) to each record written while a request is served."""

    def filter(self, record):
        if getattr(record, "request_id", None) is None:
            record.request_id = g.get("request_id") if has_app_context() else None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record):
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id and request_id not in line:
            line = f"{line} [request {request_id}]"
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id and, for an error, the traceback."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_formatter(kind):
    return JsonFormatter() if kind == "json" else TextFormatter()


def configure(app):
    """Every log line of the process through one handler on stderr, in the app's LOG_FORMAT at its LOG_LEVEL."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "baodao", False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.baodao = True
    handler.setFormatter(make_formatter(app.config["LOG_FORMAT"]))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])


class GunicornLogger(glogging.Logger):
    """gunicorn's logger writing through baodao's formatters: its access lines name method, redacted path, status,
    duration and the request id (from the answer's X-Request-ID), never the query string or the client's address."""

    def setup(self, cfg):
        super().setup(cfg)
        formatter = make_formatter(log_format(os.environ))
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms.update({"h": "-", "q": "", "f": "-", "U": redact(atoms["U"] or ""), "r": redact(atoms["r"])})
        return atoms

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        extra = {"request_id": atoms.get("{x-request-id}o") or None, "method": atoms["m"], "path": atoms["U"],
                 "status": int(str(atoms["s"]).split()[0]), "duration_ms": atoms["M"], "bytes": atoms["B"]}
        try:
            self.access_log.info(self.cfg.access_log_format, self.atoms_wrapper_class(atoms), extra=extra)
        except Exception:
            self.exception("access log line failed")
