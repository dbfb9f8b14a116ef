"""The redaction corpus through the Curator: nothing reaches the outbox file or the ingest server.

Also runs curation on the real models when they are fetched: MiniLM sentence embeddings for
novelty/near-duplicates, and BlazeFace blurring the astronaut's face in a kept thumbnail.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from edgesdk.data.curate import CurationDecision, Curator
from edgesdk.data.outbox import Outbox
from edgesdk.data.redact import ImagePolicy, Redactor
from edgesdk.data.uploader import Uploader
from edgesdk.data.value import Caps, Triggers
from edgesdk.protocols import Embedder
from edgesdk.testing.ingest import IngestServer
from edgesdk.testing.pii_corpus import CORPUS
from edgesdk.types import Answer, DetectedObject, Face, TextLine

pytestmark = pytest.mark.integration

REAL_HOME = Path.home() / ".cache" / "edgesdk"


def _all_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())


def _needles(secret: str) -> list[bytes]:
    out = [secret.encode()]
    digits = re.sub(r"\D", "", secret)
    if len(digits) >= 7 and digits != secret:
        out.append(digits.encode())
    return out


def test_corpus_leaks_nothing_to_outbox_file_or_ingest(tmp_path: Path) -> None:
    outbox_dir = tmp_path / "outbox"
    ingest_db = tmp_path / "ingest" / "ingest.sqlite3"
    ingest_db.parent.mkdir()
    unlimited = Caps(records_per_minute=None, records_per_hour=None, records_per_day=None,
                     bytes_per_minute=None, bytes_per_hour=None, bytes_per_day=None)
    triggers = Triggers(sample_rates={"baseline": 0.0}, novelty_above=2.0, caps=unlimited)
    with Outbox(outbox_dir / "o.sqlite3") as box, \
            IngestServer(db_path=ingest_db) as server:
        curator = Curator(outbox=box, triggers=triggers)
        for i, (text, _) in enumerate(CORPUS):
            answer = Answer(
                text=f"Noted: {text}", tier="cloud", confidence=0.3, escalated=True,
                latency_ms=5.0, question=text, device_text=f"I think {text}", id=f"a{i}",
                percepts=[TextLine(text=text, box=(0, 0, 10, 10), score=0.9)],
                reasons=[f"route saw {text}"],
            )
            decision = curator.consider(answer, extra={"note": text})
            assert decision.kept, decision
            curator.feedback(f"a{i}", good=False, correction=f"correct is {text}")
        assert box.stats().pending == 2 * len(CORPUS)
        on_disk = _all_bytes(outbox_dir)  # database, WAL and shared-memory files
        with Uploader(outbox=box, ingest_url=server.url) as up:
            assert up.run_once().sent == 2 * len(CORPUS)
        records = repr(server.records()).encode()
        server_bytes = records + _all_bytes(ingest_db.parent)
        assert len(server.ids()) == 2 * len(CORPUS)
    for _, secrets in CORPUS:
        for secret in secrets:
            for needle in _needles(secret):
                assert needle not in on_disk, f"{secret!r} reached the outbox file"
                assert needle not in server_bytes, f"{secret!r} reached the ingest server"
    assert b"[EMAIL]" in on_disk and b"[PHONE]" in on_disk and b"[ID]" in on_disk


def _minilm() -> Embedder:
    from edgesdk.catalog import Catalog
    from edgesdk.config import Settings
    from edgesdk.local.embed import MiniLMEmbedder

    catalog = Catalog(settings=Settings(home=REAL_HOME))
    for model_id in ("minilm-l6-int8", "minilm-l6-tokenizer"):
        if not catalog.path_of(model_id).exists():
            pytest.skip(f"model {model_id} not fetched; run: edgesdk models fetch {model_id}")
    return MiniLMEmbedder.load(catalog=catalog)


def test_minilm_embeddings_are_normalised_and_semantic() -> None:
    embedder = _minilm()
    vectors = embedder.embed(["What is the capital of France?",
                              "Which city is the capital of France?",
                              "How do I bake sourdough bread?", "北京是中国的首都"])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.8 > 0.3 > sims[0, 2]
    assert embedder.embed([]).shape == (0, 384)


def test_curator_with_minilm_drops_paraphrased_duplicates_keeps_novel(tmp_path: Path) -> None:
    embedder = _minilm()
    with Outbox(tmp_path / "o.sqlite3") as box:
        curator = Curator(outbox=box, embedder=embedder,
                          triggers=Triggers(sample_rates={"baseline": 0.0},
                                            near_duplicate_below=0.08))

        def ask(q: str, aid: str, conf: float = 0.2) -> CurationDecision:
            return curator.consider(Answer(text="?", tier="device", confidence=conf,
                                           escalated=False, latency_ms=1.0, question=q,
                                           id=aid))

        first = ask("What is the boiling point of water at sea level?", "1")
        again = ask("what is the boiling point of water at sea level", "2")
        assert first.kept and first.repeat_of is None
        assert again.repeat_of == first.record_id and again.bytes < first.bytes / 2
        assert ask("Translate 'thank you' into Japanese", "3").repeat_of is None
        stats = curator.stats()
        assert stats.kept == 3 and stats.reasons["repeat"] == 1 and stats.dropped == {}
        assert [r.kind for r in box.records()].count("repeat") == 1


def test_real_blazeface_blurs_the_astronaut_in_the_kept_thumbnail(tmp_path: Path) -> None:
    skdata = pytest.importorskip("skimage.data")
    from PIL import Image

    from edgesdk.catalog import Catalog
    from edgesdk.config import Settings

    catalog = Catalog(settings=Settings(home=REAL_HOME))
    if not catalog.path_of("face-blazeface-short").exists():
        pytest.skip("face-blazeface-short not fetched; run: edgesdk models fetch")
    from edgesdk.local.vision import FaceDetector

    detector = FaceDetector.load(catalog=catalog)
    rgb = skdata.astronaut()
    [face] = detector.detect(rgb)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=92)
    redactor = Redactor(face_detector=detector, image_policy=ImagePolicy(thumbnail_px=128))
    with Outbox(tmp_path / "o.sqlite3") as box:
        curator = Curator(outbox=box, redactor=redactor,
                          triggers=Triggers(sample_rates={"baseline": 0.0}))
        answer = Answer(text="a person", tier="device", confidence=0.2, escalated=False,
                        latency_ms=1.0, question="who is this?", id="x",
                        percepts=[Face(box=face.box, score=face.score),
                                  DetectedObject(label="Person", box=face.box, score=0.9)])
        decision = curator.consider(answer, image=buf.getvalue())
        assert decision.kept and decision.record_id
        record = box.get(decision.record_id)
    assert record is not None
    import base64

    thumb = Image.open(io.BytesIO(base64.b64decode(record.payload["image_jpeg_b64"])))
    assert max(thumb.size) <= 128
    assert detector.detect(np.asarray(thumb.resize((512, 512)).convert("RGB"))) == []
    scale = thumb.size[0] / rgb.shape[1]
    x0, y0, x1, y1 = (int(v * scale) for v in face.box)
    gray = np.asarray(thumb.convert("L"), dtype=np.float64)
    original = np.asarray(Image.fromarray(rgb).resize(thumb.size).convert("L"), dtype=np.float64)
    assert gray[y0:y1, x0:x1].std() < original[y0:y1, x0:x1].std() * 0.6
