"""The uploader: drains the outbox to ``POST <ingest>/v1/records`` when the device allows it.

Delivery is at-least-once (lease, post, then ack) and the ingest server dedupes by record id, so
a crash at any moment costs at most one re-sent batch, never a lost or doubled record. Batches
are JSON lines, gzipped when that makes them smaller (it nearly always does for text).

Server replies are handled by type, not by message: 413 (and 400/422) split the batch in halves
until the culprit is alone, and a single refused record is parked (kept, no longer sent);
429/5xx and connection faults back off exponentially (honouring ``Retry-After``); 401/403 stop
with :class:`UploadAuthError`, 404/405 (a wrong URL) with :class:`UploadError`. The device
policy is checked before every batch: unmetered network only, charging only, a battery floor
when not charging, and a daily byte budget that survives restarts (kept in the outbox).
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from edgesdk.data.outbox import Outbox, OutboxRecord
from edgesdk.data.redact import Redactor
from edgesdk.devices import DeviceProfile, DeviceState
from edgesdk.errors import UploadAuthError, UploadError

log = logging.getLogger(__name__)


class UploadPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    unmetered_only: bool = True
    charging_only: bool = False
    min_battery: float = Field(default=0.2, ge=0.0, le=1.0)
    """Below this battery level and not charging, wait: an upload is never worth the last
    fifth of a watch's charge (0 = ignore the battery)."""
    daily_bytes: int | None = 50 * 1024 * 1024
    """Bytes on the wire per UTC day (after gzip); None = unlimited."""

    @classmethod
    def for_profile(cls, profile: DeviceProfile, **overrides: object) -> UploadPolicy:
        """The policy a device profile implies: its battery floor (``upload_min_battery``),
        unmetered networks only, the default daily budget; ``overrides`` win."""
        return cls.model_validate({"min_battery": profile.upload_min_battery, **overrides})


class UploadReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    requests: int = 0
    bytes_sent: int = 0
    bytes_raw: int = 0
    parked: int = 0
    quarantined: int = 0
    """Records that still held a detectable secret: kept on the device, not sent."""
    retries: int = 0
    blocked: str | None = None
    remaining: int = 0
    pack_pulled: str | None = None
    """The version of the answer pack taken in this cycle (``Uploader(packs=...)``), if any."""
    pack_error: str | None = None
    """Why the pack due in this cycle was not taken (the one in use stays)."""


class _Tally:
    def __init__(self) -> None:
        self.sent = self.accepted = self.duplicates = self.requests = 0
        self.bytes_sent = self.bytes_raw = self.parked = self.retries = self.quarantined = 0

    def report(self, *, blocked: str | None, remaining: int, pack_pulled: str | None = None,
               pack_error: str | None = None) -> UploadReport:
        return UploadReport(sent=self.sent, accepted=self.accepted, duplicates=self.duplicates,
                            requests=self.requests, bytes_sent=self.bytes_sent,
                            bytes_raw=self.bytes_raw, parked=self.parked, retries=self.retries,
                            quarantined=self.quarantined, blocked=blocked, remaining=remaining,
                            pack_pulled=pack_pulled, pack_error=pack_error)


class _Retry(Exception):
    def __init__(self, retry_after_s: float | None) -> None:
        self.retry_after_s = retry_after_s


def encode_batch(records: Sequence[OutboxRecord], *, gzip_min_bytes: int = 512
                 ) -> tuple[bytes, dict[str, str], int]:
    """The request body and headers for a batch; gzip only when it is actually smaller."""
    raw = ("\n".join(r.line() for r in records) + "\n").encode()
    headers = {"Content-Type": "application/x-ndjson"}
    if len(raw) >= gzip_min_bytes:
        packed = gzip.compress(raw, compresslevel=6, mtime=0)
        if len(packed) < len(raw) * 0.9:
            headers["Content-Encoding"] = "gzip"
            return packed, headers, len(raw)
    return raw, headers, len(raw)


class Uploader:
    """Sends outbox records to an ingest server, within the device policy."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        ingest_url: str,
        token: str | None = None,
        policy: UploadPolicy | None = None,
        device_state: Callable[[], DeviceState] = DeviceState,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        batch_records: int = 100,
        batch_bytes: int = 512 * 1024,
        lease_s: float = 60.0,
        timeout_s: float = 30.0,
        redactor: Redactor | None = None,
        device_id: str | None = None,
        packs: PackSubscription | None = None,
    ) -> None:
        """``device_id``: the pseudonymous install id sent with each batch (default: a random
        one kept beside the outbox), so a fleet pack can count distinct devices without
        knowing any. ``packs``: pull the fleet's answer pack after each drain, when due."""
        self.outbox = outbox
        self.packs = packs
        self.redactor = redactor or outbox.redactor
        """The last check before a record leaves the device (``Redactor.findings``)."""
        self.url = ingest_url.rstrip("/") + "/v1/records"
        self.policy = policy or UploadPolicy()
        self._state = device_state
        self._clock = clock
        self._sleep = sleep
        self.batch_records = batch_records
        self.batch_bytes = batch_bytes
        self.lease_s = lease_s
        headers = {"User-Agent": "edgesdk-uploader",
                   "X-EdgeSDK-Device": device_id or install_id(outbox.path.parent)}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(transport=transport, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Uploader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ policy

    def _budget_key(self) -> str:
        day = datetime.fromtimestamp(self._clock(), tz=timezone.utc).strftime("%Y-%m-%d")
        return f"uploaded_bytes:{day}"

    def budget_left(self) -> int | None:
        if self.policy.daily_bytes is None:
            return None
        return max(self.policy.daily_bytes - int(self.outbox.counter(self._budget_key())), 0)

    def blocked_reason(self) -> str | None:
        """Why the device must not upload right now, or None."""
        state = self._state()
        if state.network == "none":
            return "no network"
        if self.policy.unmetered_only and state.network != "unmetered":
            return "metered network (policy: unmetered only)"
        if self.policy.charging_only and not state.charging:
            return "not charging (policy: charging only)"
        if not state.charging and state.battery < self.policy.min_battery:
            return (f"battery low ({state.battery:.0%} < {self.policy.min_battery:.0%}, not "
                    "charging)")
        if self.budget_left() == 0:
            return "daily upload budget used"
        return None

    # ------------------------------------------------------------------ draining

    def run_once(self, *, max_wait_s: float | None = None) -> UploadReport:
        """Upload until the outbox is empty or the policy blocks; waits out backoffs.

        ``max_wait_s`` bounds the total time spent waiting for retries (None = no bound).
        Raises :class:`UploadAuthError` on 401/403.
        """
        tally = _Tally()
        waited = 0.0
        while True:
            blocked = self.blocked_reason()
            if blocked is not None:
                return tally.report(blocked=blocked, remaining=self.outbox.stats().pending)
            left = self.budget_left()
            limit = self.batch_bytes if left is None else min(self.batch_bytes, left)
            batch = self.outbox.lease(max_records=self.batch_records, max_bytes=limit,
                                      lease_s=self.lease_s)
            if batch:
                self._deliver(batch, tally)
                continue
            ready_at = self.outbox.next_ready_at()
            if ready_at is None:
                if self.packs is not None and self.packs.pull_if_due(self._clock()) is not None:
                    return tally.report(blocked=None, remaining=self.outbox.stats().pending,
                                        pack_pulled=self.packs.version,
                                        pack_error=self.packs.error)
                return tally.report(blocked=None, remaining=self.outbox.stats().pending)
            delay = max(ready_at - self._clock(), 0.0) + 0.01
            if max_wait_s is not None and waited + delay > max_wait_s:
                return tally.report(blocked="waiting to retry",
                                    remaining=self.outbox.stats().pending)
            waited += delay
            self._sleep(delay)

    def run_forever(self, *, stop: threading.Event | None = None, idle_s: float = 5.0) -> None:
        """Keep draining; sleep ``idle_s`` whenever there is nothing to do or upload is blocked."""
        stop = stop or threading.Event()
        while not stop.is_set():
            report = self.run_once(max_wait_s=idle_s)
            if report.sent == 0:
                stop.wait(idle_s)

    def _deliver(self, batch: list[OutboxRecord], tally: _Tally) -> None:
        leaking = [r for r in batch if self.redactor.findings(
            {"kind": r.kind, "reasons": list(r.reasons), "payload": r.payload})]
        if leaking:
            # written before the boundary redacted (an older outbox), or by hand into the file
            log.warning("quarantined %d record(s) that still hold a detectable secret",
                        len(leaking))
            self.outbox.quarantine([r.id for r in leaking])
            tally.quarantined += len(leaking)
            batch = [r for r in batch if r not in leaking]
            if not batch:
                return
        try:
            self._post(batch, tally)
        except _Retry as retry:
            tally.retries += 1
            self.outbox.nack([r.id for r in batch], retry_after_s=retry.retry_after_s)
        except BaseException:  # 401, unexpected replies, KeyboardInterrupt: give the batch back
            self.outbox.release([r.id for r in batch])
            raise

    def _post(self, batch: list[OutboxRecord], tally: _Tally) -> None:
        body, headers, raw_size = encode_batch(batch)
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.TransportError as exc:
            log.info("upload to %s failed (%s); backing off", self.url, exc)
            raise _Retry(None) from exc
        tally.requests += 1
        self.outbox.add_counter(self._budget_key(), len(body))
        status = response.status_code
        if status == 200:
            try:
                reply = response.json()
                accepted, duplicates = int(reply["accepted"]), int(reply["duplicates"])
            except (ValueError, KeyError, TypeError) as exc:
                raise _Retry(None) from exc
            self.outbox.ack([r.id for r in batch])
            tally.sent += len(batch)
            tally.accepted += accepted
            tally.duplicates += duplicates
            tally.bytes_sent += len(body)
            tally.bytes_raw += raw_size
            return
        if status in (401, 403):
            raise UploadAuthError(
                f"the ingest server {self.url} refused the upload token (HTTP {status}). "
                "Check the token (edgesdk upload --token / EDGESDK_INGEST_TOKEN); "
                "nothing was lost, the records stay in the outbox"
            )
        if status in (404, 405):
            raise UploadError(
                f"{self.url} is not an ingest endpoint (HTTP {status}). Check --ingest-url: "
                "it should be the server root, the uploader adds /v1/records; nothing was lost"
            )
        if status in (400, 413, 422):
            # too large (413) or refused content (400/422): halve until the culprit is alone
            if len(batch) == 1:
                log.warning("the server refused record %s (HTTP %s); parked", batch[0].id,
                            status)
                self.outbox.park([batch[0].id])
                tally.parked += 1
                return
            half = len(batch) // 2
            for part in (batch[:half], batch[half:]):
                try:
                    self._post(part, tally)
                except _Retry as retry:
                    tally.retries += 1
                    self.outbox.nack([r.id for r in part], retry_after_s=retry.retry_after_s)
            return
        if status in (408, 425, 429) or status >= 500:
            raise _Retry(_retry_after(response))
        raise _Retry(None)  # other 4xx: counted as a failed attempt, parked after max_attempts


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def load_json_lines(body: bytes) -> list[dict[str, object]]:
    """Decode a (possibly gzipped) JSON-lines batch — the inverse of :func:`encode_batch`."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


def install_id(folder: Path) -> str:
    """A random id for this install, made once and kept in ``folder/install_id`` (delete the
    file to rotate it). It names no person and no device model."""
    path = folder / "install_id"
    try:
        return path.read_text("utf-8").strip() or _new_id(path)
    except OSError:
        return _new_id(path)


def _new_id(path: Path) -> str:
    value = uuid.uuid4().hex
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value, "utf-8")
    except OSError:
        pass  # an unwritable home: a fresh id per process, still no identity
    return value


@dataclass
class PackSubscription:
    """Pull ``url``'s answer pack into ``knowledge``'s learned answers every ``every_s``."""

    url: str
    public_key: bytes
    knowledge: Any
    every_s: float = 24 * 3600
    last: float = 0.0
    error: str | None = None
    """Why the last pull's pack was not taken (None after a pack is taken)."""
    version: str | None = None
    """The version of the last pack taken."""

    def pull_if_due(self, now: float) -> bool | None:
        """None when no pull was due; else whether the pack was taken (``error`` says why
        not; the cycle's ``UploadReport`` carries both)."""
        if now - self.last < self.every_s:
            return None
        self.last = now
        from edgesdk.errors import PackError
        from edgesdk.knowledge.packs import pull_pack

        try:
            pack = pull_pack(self.url, learned=self.knowledge.learned,
                             public_key=self.public_key, embedder_id=self.knowledge.embedder_id)
        except PackError as exc:  # the pack in use stays; the report says why
            self.error = str(exc)
            log.warning("answer pack not taken: %s", exc)
            return False
        self.error, self.version = None, pack.version
        return True
