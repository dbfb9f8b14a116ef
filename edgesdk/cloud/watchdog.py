"""Keeping a blocking read to a wall-clock deadline: shut the socket down when time is up.

httpx's read timeout restarts at every byte, and DeepSeek keeps a queued request alive by
trickling blank lines or ``: keep-alive`` comments, so a socket timeout alone cannot keep a
promise about wall time, and a server that sends a little and then stalls can hold a blocking
``recv`` for a whole extra timeout. Reading in a worker thread would fix that but costs a thread
hand-off per streamed delta (measured: several ms per answer on a loaded 2-core device). Instead
the caller's thread does the I/O, checks the deadline at every chunk, and one process-wide
watchdog thread ``shutdown()``s the socket of any request still reading at its deadline, which
wakes the blocked ``recv`` at once. Arming and disarming are a heap push and a flag, so the
common case costs microseconds.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any


class Guard:
    __slots__ = ("active", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.active = True


class Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Guard]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, sock: socket.socket, *, after_s: float) -> Guard:
        """Shut ``sock`` down ``after_s`` seconds from now unless disarmed first."""
        entry = Guard(sock)
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + after_s, next(self._seq), entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="edgesdk-watchdog",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return entry

    @staticmethod
    def disarm(entry: Guard | None) -> None:
        if entry is not None:
            entry.active = False  # popped lazily by the watchdog thread

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and not self._heap[0][2].active:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                due = self._heap[0][0] - time.monotonic()
                if due > 0:
                    self._cond.wait(due)
                    continue
                _, _, entry = heapq.heappop(self._heap)
            if entry.active:
                with contextlib.suppress(OSError):  # already closed
                    entry.sock.shutdown(socket.SHUT_RDWR)


WATCHDOG = Watchdog()


def socket_of(network_stream: Any) -> socket.socket | None:
    """The OS socket behind an httpcore network stream, if there is one (not in mock tests)."""
    getter = getattr(network_stream, "get_extra_info", None)
    if getter is None:
        return None
    sock = getter("socket")
    return sock if isinstance(sock, socket.socket) else None
