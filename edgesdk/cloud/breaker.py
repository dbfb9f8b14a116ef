"""A circuit breaker per tier, so a tier that keeps failing is skipped instantly for a while.

Without it every request to a dead or overloaded tier would spend its whole deadline (and its
retries) before falling back, and a fleet of devices would hammer a struggling server. After
``failure_threshold`` consecutive failed attempts the breaker *opens*: calls fail at once with
:class:`~edgesdk.errors.CircuitOpen` for ``cooldown_s``. Then it is *half-open*: one trial call
goes through; success closes it, failure opens it for another cool-down. Only failures that say
something about the tier's health count (5xx, 429, timeouts, connection and protocol faults);
a 400 or 401 is the caller's problem and leaves the breaker as it was.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from edgesdk.errors import CircuitOpen

State = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    def __init__(self, *, failure_threshold: int = 5, cooldown_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, name: str = "cloud") -> None:
        if failure_threshold < 1 or cooldown_s < 0:
            raise ValueError("failure_threshold must be >= 1 and cooldown_s >= 0")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> State:
        with self._lock:
            return self._state()

    def _state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half-open"
        return "open"

    def before_call(self) -> None:
        """Raise CircuitOpen if the tier is cooling down; otherwise let the call through."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return
            if state == "half-open" and not self._trial_in_flight:
                self._trial_in_flight = True
                return
            assert self._opened_at is not None
            left = max(0.0, self.cooldown_s - (self._clock() - self._opened_at))
        raise CircuitOpen(
            f"the {self.name} tier failed {self.failure_threshold} times in a row and is "
            f"skipped for another {left:.1f} s; the answer falls back to a lower tier. "
            "Check the tier's URL and status, or wait",
            tier=self.name,
        )

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_in_flight or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._trial_in_flight = False

    def release(self) -> None:
        """End a call that said nothing about the tier's health (e.g. a 400)."""
        with self._lock:
            self._trial_in_flight = False

    def reset(self) -> None:
        self.record_success()

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self.state!r})"
