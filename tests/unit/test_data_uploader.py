"""Uploader against httpx.MockTransport: batching, gzip, 413 split, 429/503 backoff, 401, policy."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest

from edgesdk.data.outbox import Outbox
from edgesdk.data.uploader import Uploader, UploadPolicy, encode_batch, load_json_lines
from edgesdk.devices import DeviceState
from edgesdk.errors import UploadAuthError, UploadError


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


class Server:
    """A scripted ingest endpoint: replies from a queue, then 200 with dedupe."""

    def __init__(self, *, max_lines: int | None = None) -> None:
        self.script: list[httpx.Response] = []
        self.store: dict[str, dict[str, object]] = {}
        self.bodies: list[tuple[dict[str, str], bytes]] = []
        self.max_lines = max_lines

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append((dict(request.headers), request.content))
        if self.script:
            return self.script.pop(0)
        lines = load_json_lines(request.content)
        if self.max_lines is not None and len(lines) > self.max_lines:
            return httpx.Response(413)
        new = [r for r in lines if r["id"] not in self.store]
        for r in new:
            self.store[str(r["id"])] = r
        return httpx.Response(200, json={"accepted": len(new),
                                         "duplicates": len(lines) - len(new)})


def make(tmp_path: Path, server: Server, *, state: DeviceState | None = None,
         policy: UploadPolicy | None = None, n: int = 10, batch: int = 4
         ) -> tuple[Uploader, Outbox, Clock, list[str]]:
    clock = Clock()
    box = Outbox(tmp_path / "o.sqlite3", clock=clock, seed=0)
    ids = [box.put("interaction", {"q": f"question {i} " + "words " * 40}, value=i / n)
           for i in range(n)]
    up = Uploader(outbox=box, ingest_url="http://ingest.test/",
                  transport=httpx.MockTransport(server),
                  device_state=lambda: state or DeviceState(), policy=policy, clock=clock,
                  sleep=clock.sleep, batch_records=batch)
    return up, box, clock, ids


def test_drains_in_batches_with_gzip_and_wire_format(tmp_path: Path) -> None:
    server = Server()
    up, box, _, ids = make(tmp_path, server)
    report = up.run_once()
    assert report.sent == 10 and report.accepted == 10 and report.requests == 3
    assert set(server.store) == set(ids) and box.stats().pending == 0
    headers, body = server.bodies[0]
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"] == "application/x-ndjson"
    first = json.loads(gzip.decompress(body).decode().splitlines()[0])
    assert set(first) == {"id", "kind", "created_at", "value", "reasons", "payload"}
    assert first["value"] == 0.9  # most valuable first
    assert report.bytes_sent < report.bytes_raw


def test_small_batches_are_not_gzipped() -> None:
    from edgesdk.data.outbox import OutboxRecord

    rec = OutboxRecord(id="x", kind="k", created_at=0.0, value=1.0, reasons=(), payload={},
                       bytes=10)
    body, headers, _ = encode_batch([rec])
    assert "Content-Encoding" not in headers and json.loads(body)["id"] == "x"


def test_413_splits_then_parks_a_single_oversized_record(tmp_path: Path) -> None:
    server = Server(max_lines=1)
    up, _, _, ids = make(tmp_path, server, n=5, batch=4)
    report = up.run_once()
    assert report.sent == 5 and set(server.store) == set(ids)
    server2 = Server()
    server2.script = [httpx.Response(413)]
    up2, box2, _, ids2 = make(tmp_path / "b", server2, n=1)
    assert up2.run_once().parked == 1
    assert box2.stats().dead == 1 and box2.contains(ids2[0])


def test_429_and_503_back_off_and_honour_retry_after(tmp_path: Path) -> None:
    server = Server()
    server.script = [httpx.Response(429, headers={"Retry-After": "30"}), httpx.Response(503),
                     httpx.Response(503)]
    up, _, clock, ids = make(tmp_path, server, n=3, batch=10)
    report = up.run_once()
    assert report.retries == 3 and report.sent == 3 and set(server.store) == set(ids)
    assert clock.slept[0] >= 30
    assert len(clock.slept) == 3 and clock.slept[2] > clock.slept[1]  # exponential
    assert report.requests == 4  # the batch stays together across retries


def test_connection_errors_back_off(tmp_path: Path) -> None:
    calls = {"n": 0}
    server = Server()

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise httpx.ConnectError("refused")
        return server(request)

    clock = Clock()
    box = Outbox(tmp_path / "o.sqlite3", clock=clock)
    box.put("k", {"a": 1})
    up = Uploader(outbox=box, ingest_url="http://x", transport=httpx.MockTransport(flaky),
                  clock=clock, sleep=clock.sleep)
    assert up.run_once().sent == 1 and len(clock.slept) == 2


def test_max_wait_bounds_once_mode(tmp_path: Path) -> None:
    server = Server()
    server.script = [httpx.Response(503, headers={"Retry-After": "600"})]
    up, _, _, _ = make(tmp_path, server, n=2)
    report = up.run_once(max_wait_s=10)
    assert report.blocked == "waiting to retry" and report.remaining == 2


def test_401_stops_with_typed_error_and_loses_nothing(tmp_path: Path) -> None:
    server = Server()
    server.script = [httpx.Response(401)]
    up, box, _, _ = make(tmp_path, server)
    with pytest.raises(UploadAuthError, match="token"):
        up.run_once()
    assert box.stats().pending == 10 and box.stats().leased == 0
    assert all(r.attempts == 0 for r in box.lease(max_records=100))


@pytest.mark.parametrize(("state", "policy", "why"), [
    (DeviceState(network="metered"), UploadPolicy(), "metered"),
    (DeviceState(network="none"), UploadPolicy(unmetered_only=False), "no network"),
    (DeviceState(charging=False), UploadPolicy(charging_only=True), "charging"),
    (DeviceState(battery=0.15), UploadPolicy(), "battery low (15% < 20%"),
])
def test_device_policy_blocks_upload(tmp_path: Path, state: DeviceState, policy: UploadPolicy,
                                     why: str) -> None:
    server = Server()
    up, box, _, _ = make(tmp_path, server, state=state, policy=policy)
    report = up.run_once()
    assert report.blocked is not None and why in report.blocked
    assert server.bodies == [] and box.stats().pending == 10


@pytest.mark.parametrize("state", [DeviceState(battery=0.15, charging=True),
                                   DeviceState(battery=0.5)])
def test_low_battery_waits_only_when_not_charging(tmp_path: Path, state: DeviceState) -> None:
    server = Server()
    up, box, _, _ = make(tmp_path, server, state=state)
    assert up.run_once().blocked is None and box.stats().pending == 0
    up, _, _, _ = make(tmp_path / "b", server, state=DeviceState(battery=0.15),
                       policy=UploadPolicy(min_battery=0.0))
    assert up.run_once().blocked is None  # 0 turns the battery rule off


def test_daily_budget_is_enforced_and_persists(tmp_path: Path) -> None:
    server = Server()
    up, box, clock, _ = make(tmp_path, server, policy=UploadPolicy(daily_bytes=300), n=10,
                             batch=2)
    report = up.run_once()
    assert report.blocked == "daily upload budget used" and 0 < report.sent < 10
    again = Uploader(outbox=box, ingest_url="http://ingest.test",
                     transport=httpx.MockTransport(server), policy=UploadPolicy(daily_bytes=300),
                     clock=clock, sleep=clock.sleep)
    assert again.run_once().sent == 0
    clock.t += 86400  # next day, new budget
    later = again.run_once()
    assert later.sent > 0 and len(server.store) == report.sent + later.sent


def test_400_isolates_and_parks_the_poison_record(tmp_path: Path) -> None:
    server = Server()
    _, box, _, ids = make(tmp_path, server, n=8, batch=8)
    poison = box.put("interaction", {"q": "poison"}, value=0.95)

    def picky(request: httpx.Request) -> httpx.Response:
        if b"poison" in load_json_lines_bytes(request.content):
            return httpx.Response(400)
        return server(request)

    up2 = Uploader(outbox=box, ingest_url="http://ingest.test", sleep=lambda s: None,
                   transport=httpx.MockTransport(picky), batch_records=8)
    report = up2.run_once()
    assert report.parked == 1 and report.sent == 8 and set(server.store) == set(ids)
    assert box.stats().dead == 1 and box.contains(poison)


def load_json_lines_bytes(body: bytes) -> bytes:
    return json.dumps(load_json_lines(body)).encode()


def test_wrong_url_stops_with_a_typed_error(tmp_path: Path) -> None:
    server = Server()
    server.script = [httpx.Response(404)]
    up, box, _, _ = make(tmp_path, server)
    with pytest.raises(UploadError, match="ingest-url"):
        up.run_once()
    assert box.stats().pending == 10 and box.stats().leased == 0
