"""The lifecycle every HTTP server of the SDK shares: serve in a daemon thread, stop, close.

The bridge, the edge server and the two test servers (DeepSeek stand-in, ingest) are stdlib
``ThreadingHTTPServer``s owned by an object that tests start with ``with X(...) as x:`` and the
CLI runs in the foreground until SIGINT/SIGTERM. Starting, stopping and the URL were written
four times with small drifts; they live here once. Standard library only, so any layer may use it.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from types import TracebackType
from typing import ClassVar, Self


class ThreadedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, daemon threads, IPv6 when the host has a colon."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int],
                 handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)


class BackgroundHTTPServer:
    """Owns ``_httpd``; ``start()`` serves it in a daemon thread, ``close()`` stops and frees it.

    Subclasses call :meth:`_init_http` once their ``HTTPServer`` is bound, and may override
    ``serve_forever`` (to log first) and ``close`` (to free more, calling ``super().close()``).
    """

    thread_name: ClassVar[str] = "edgesdk-http"
    poll_interval_s: ClassVar[float] = 0.2
    url_path: ClassVar[str] = ""
    _httpd: HTTPServer
    _url_host: str
    _thread: threading.Thread | None

    def _init_http(self, httpd: HTTPServer, *, url_host: str) -> None:
        self._httpd = httpd
        self._url_host = url_host
        self._thread = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self._url_host}]" if ":" in self._url_host else self._url_host
        return f"http://{host}:{self.port}{self.url_path}"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=self.poll_interval_s)

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.serve_forever, name=self.thread_name,
                                        daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop accepting requests (safe to call from a signal handler's thread)."""
        self._httpd.shutdown()

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
