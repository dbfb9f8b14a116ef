"""Privacy at the boundary (issue 25): nothing unredacted reaches the outbox file or the network
through the public data API, whatever the caller passes; the uploader's last check quarantines
what still holds a secret."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from edgesdk.data.outbox import Outbox
from edgesdk.data.redact import Redacted, Redactor
from edgesdk.data.uploader import Uploader, UploadPolicy
from edgesdk.devices import DeviceState
from edgesdk.errors import UnredactablePayload
from edgesdk.testing.ingest import IngestServer
from edgesdk.types import Face

SECRETS = ("alice1@example.com", "+1 415 555 0101", "sk-live-0001abcdefghijklmnop",
           "11010519491231002X")
TEXT = (f"reach me at {SECRETS[0]} or {SECRETS[1]}, key {SECRETS[2]}, "
        f"身份证 {SECRETS[3]}")


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_put_redacts_every_string_keys_and_kind_included(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    rid = box.put("note", {"text": TEXT, SECRETS[0]: [TEXT, {"nested": TEXT}], "n": 3},
                  reasons=[f"asked by {SECRETS[0]}"])
    record = box.get(rid)
    assert record is not None
    line = record.line()
    for secret in SECRETS:
        assert secret not in line, secret
    assert "[EMAIL]" in line and "[PHONE]" in line and "[KEY]" in line and "[ID]" in line
    assert record.payload["n"] == 3
    box.close()
    raw = _file_bytes(tmp_path / "o.sqlite3")  # the database and its write-ahead log
    for secret in SECRETS:
        assert secret.encode() not in raw, secret


def test_only_the_redactor_makes_the_proof_and_the_proof_is_stored_as_it_is(
        tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"Redactor\.redacted"):
        Redacted({"text": TEXT}, Counter(), _proof=object())
    proof = Redactor().redacted({"text": TEXT})
    assert sum(proof.found.values()) == 4
    box = Outbox(tmp_path / "o.sqlite3")
    rid = box.put("note", proof)
    assert box.get(rid).payload == proof.payload  # type: ignore[union-attr]


def test_what_the_redactor_cannot_inspect_is_refused_with_what_to_do(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    with pytest.raises(UnredactablePayload, match="redact_image"):
        box.put("note", {"blob": b"\x00\x01 alice@example.com"})
    with pytest.raises(UnredactablePayload, match="object"):
        box.put("note", {"thing": object()})
    assert box.stats().pending == 0
    # digits the app stored as a number are read like the same digits in text
    rid = box.put("note", {"card": 4111111111111111, "count": 12, "ratio": 0.5, "ok": True})
    assert box.get(rid).payload == {  # type: ignore[union-attr]
        "card": "[CARD]", "count": 12, "ratio": 0.5, "ok": True}


class _OneFace:
    def detect(self, rgb: np.ndarray) -> list[Face]:
        return [Face(box=(8.0, 8.0, 40.0, 40.0), score=0.9)]


def _jpeg_b64(size: int = 256) -> str:
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def test_images_in_a_payload_keep_the_face_blur_or_are_dropped(tmp_path: Path) -> None:
    photo = _jpeg_b64()
    # no face detector: an image nobody can check is not kept
    plain = Outbox(tmp_path / "a.sqlite3")
    assert plain.get(plain.put("photo", {"image_jpeg_b64": photo})).payload == {  # type: ignore[union-attr]
        "image_jpeg_b64": None}
    # with one: a blurred thumbnail, never the original
    blurring = Outbox(tmp_path / "b.sqlite3", redactor=Redactor(face_detector=_OneFace()))
    kept = blurring.get(blurring.put("photo", {"image_jpeg_b64": photo}))
    thumb = kept.payload["image_jpeg_b64"]  # type: ignore[union-attr]
    assert thumb and thumb != photo and len(thumb) < len(photo)


def _leak(outbox_path: Path, record_id: str, payload: dict[str, object]) -> None:
    """Write a record straight into the file, past ``put`` (an old outbox, a bypass)."""
    db = sqlite3.connect(outbox_path)
    db.execute("INSERT INTO records (id, kind, created_at, value, reasons, payload, bytes) "
               "VALUES (?, 'note', 0, 1.0, '[]', ?, 100)", (record_id, json.dumps(payload)))
    db.commit()
    db.close()


def test_public_apis_deliver_no_secret_and_a_bypass_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    for i in range(400):
        box.put("note", {"text": TEXT.replace("alice1", f"alice{i}"), "i": i},
                record_id=f"r{i:04d}")
    _leak(path, "zz-leak", {"text": f"mail {SECRETS[0]}"})
    with IngestServer(db_path=tmp_path / "ingest.sqlite3") as server:
        with Uploader(outbox=box, ingest_url=server.url,
                      policy=UploadPolicy(unmetered_only=False, daily_bytes=None),
                      device_state=lambda: DeviceState(network="unmetered")) as up:
            report = up.run_once(max_wait_s=5)
        arrived = json.dumps(server.records(), ensure_ascii=False)
        ids = server.ids()
    assert report.sent == 400 and report.quarantined == 1
    assert len(set(ids)) == 400 and "zz-leak" not in ids  # exactly once, never the leak
    for secret in (*SECRETS, "alice0@example.com", "alice399@example.com"):
        assert secret not in arrived, secret
    stats = box.stats()
    assert stats.quarantined == 1 and stats.pending == 1  # kept on the device, not sent
    assert box.counter("quarantined_total") == 1


@pytest.mark.parametrize("text", [
    TEXT, "password: hunter2hunter2", "api_key = 'AbC123xyz789LmNoP'",
    "我的密码是 Zx9!qwerty88，别告诉别人",
    "call +1 (415) 555-2671 or 13812345678, card 4111 1111 1111 1111"])
def test_redacted_text_holds_nothing_the_last_check_would_find(text: str) -> None:
    redactor = Redactor()
    once = redactor.redact_text(text)
    assert once != text
    assert not redactor.findings(once)  # else every record would be quarantined
    assert redactor.redact_text(once) == once


def test_every_promised_type_is_found_and_the_hard_negatives_survive(tmp_path: Path) -> None:
    from edgesdk.testing.pii_corpus import HARD_NEGATIVES, TYPED, measure

    redactor = Redactor()
    for kind, scores in measure(redactor).items():
        assert scores["recall"] >= 0.98 and scores["precision"] >= 0.95, (kind, scores)
    for text in HARD_NEGATIVES:
        assert redactor.redact_text(text) == text
    box = Outbox(tmp_path / "o.sqlite3")
    for i, (_, text, _) in enumerate(TYPED):
        box.put("note", {"text": text}, record_id=f"t{i}")
    box.close()
    raw = _file_bytes(tmp_path / "o.sqlite3")
    for _, _, secrets in TYPED:
        for secret in secrets:
            assert secret.encode() not in raw, secret


def test_the_held_out_corpora_written_without_the_rules() -> None:
    """Two corpora written by people who had not seen the rules (docs/data.md): at least 97 %
    of their lines lose every secret, no firing of any type is mostly wrong, no negative is
    touched, and names (found only by context) stay above their measured floor."""
    from edgesdk.testing.pii_corpus import HELD_OUT, measure

    report = measure(Redactor(), HELD_OUT)
    positives = sum(v["n"] for k, v in report.items() if k != "negative")
    clean = sum(v["n"] * v["recall"] for k, v in report.items() if k != "negative")
    assert clean / positives >= 0.97, report
    assert all(v["precision"] >= 0.95 for v in report.values()), report
    assert report["negative"]["precision"] == 1.0  # every negative intact
    assert report["name"]["recall"] >= 0.85, report["name"]


def test_redacting_any_corpus_line_leaves_nothing_for_the_last_check() -> None:
    """Else the uploader would quarantine what the Curator kept (found by the leak test)."""
    from edgesdk.testing.pii_corpus import CLEAN, CORPUS, HELD_OUT, TYPED

    redactor = Redactor()
    texts = [*CLEAN, *(t for t, _ in CORPUS), *(t for _, t, _ in TYPED),
             *(item.text for item in HELD_OUT)]
    again = {text: redactor.findings(redactor.redact_text(text)) for text in texts}
    assert {text: found for text, found in again.items() if found} == {}
