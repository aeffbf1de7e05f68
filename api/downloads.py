"""File answers (PDF, PNG, ZIP, CSV, XLSX), all through one helper."""

import io

from flask import Response, send_file, stream_with_context

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# How the OpenAPI document describes a file's body, and a page's.
BINARY = {"type": "string", "format": "binary"}
HTML = {"type": "string", "description": "A readable page"}


def send_download(content, mimetype, filename=None, *, attachment=True, headers=None):
    """``content`` as a file answer: bytes, a file object (closed once sent), or an iterable of byte chunks
    (streamed, inside the request's context). With a ``filename`` it is offered for download under that name."""
    if isinstance(content, bytes):
        content = io.BytesIO(content)
    if hasattr(content, "read"):
        response = send_file(content, mimetype=mimetype, as_attachment=attachment and filename is not None,
                             download_name=filename, conditional=False, etag=False)
    else:
        response = Response(stream_with_context(content), mimetype=mimetype)
        if filename is not None:
            response.headers.set("Content-Disposition", "attachment" if attachment else "inline", filename=filename)
    response.headers.update(headers or {})
    return response
