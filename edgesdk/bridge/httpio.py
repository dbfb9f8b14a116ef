"""The HTTP plumbing the bridge's and the edge server's handlers share: JSON replies, SSE.

Both handlers answer with ``Cache-Control: no-store`` JSON (closing the connection when asked)
or a chunked ``text/event-stream``, and must know once anything was sent, because an error after
that can no longer be a JSON reply (the stream is just closed). What each handler says, and in
which format, stays in ``handler.py`` and ``openai_server.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler

from edgesdk.errors import CloudRateLimited, EdgeSDKError


class JSONHandler(BaseHTTPRequestHandler):
    """GET and POST go to ``_dispatch``; ``_headers_sent`` says a response has started."""

    protocol_version = "HTTP/1.1"
    _headers_sent = False

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        raise NotImplementedError

    def _write_json(self, status: int, payload: bytes,
                    headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self._headers_sent = True
        self.wfile.write(payload)

    def _start_sse(self, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self._headers_sent = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def retry_after(exc: EdgeSDKError) -> tuple[float | None, dict[str, str]]:
    """A rate limit's wait in seconds and its ``Retry-After`` header (whole seconds, >= 1)."""
    retry = exc.retry_after_s if isinstance(exc, CloudRateLimited) else None
    return retry, ({} if retry is None else {"Retry-After": str(max(1, round(retry)))})
