"""Redaction: the corpus leaks nothing, ordinary text survives, faces are blurred."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from edgesdk.data.redact import (
    FaceDetector,
    ImagePolicy,
    RedactionReport,
    Redactor,
    cn_id_ok,
    luhn_ok,
)
from edgesdk.testing.pii_corpus import CLEAN, CORPUS
from edgesdk.types import Face


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert cn_id_ok("11010519491231002X") and cn_id_ok("11010519491231002x")
    assert not cn_id_ok("110105194912310021")


@pytest.mark.parametrize(("text", "secrets"), CORPUS)
def test_corpus_leaks_nothing(text: str, secrets: list[str]) -> None:
    out = Redactor().redact_text(text)
    for secret in secrets:
        assert secret not in out, out
    digits = re.sub(r"\D", "", out)
    for secret in secrets:
        secret_digits = re.sub(r"\D", "", secret)
        if len(secret_digits) >= 7:
            assert secret_digits not in digits, out
    assert "[" in out


@pytest.mark.parametrize("text", CLEAN)
def test_clean_text_is_untouched(text: str) -> None:
    assert Redactor().redact_text(text) == text


def test_payload_is_redacted_recursively_and_counted() -> None:
    report = RedactionReport()
    out = Redactor().redact_payload(
        {"q": "mail a@b.com", "nested": [{"x": "call 13812345678"}, 3, None], "n": 1.5},
        report,
    )
    assert out == {"q": "mail [EMAIL]", "nested": [{"x": "call [PHONE]"}, 3, None], "n": 1.5}
    assert report.found == {"email": 1, "cn_mobile": 1}


class FakeFaces:
    def __init__(self, boxes: Sequence[tuple[float, float, float, float]]) -> None:
        self.faces = [Face(box=b, score=0.9) for b in boxes]
        self.calls = 0

    def detect(self, rgb: NDArray[np.uint8]) -> list[Face]:
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
        self.calls += 1
        return self.faces


class BrokenFaces:
    def detect(self, rgb: NDArray[np.uint8]) -> list[Face]:
        raise RuntimeError("model crashed")


def _jpeg(width: int = 640, height: int = 480) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_faces_are_blurred_and_only_a_thumbnail_is_kept() -> None:
    from PIL import Image

    assert isinstance(FakeFaces([]), FaceDetector)
    detector = FakeFaces([(200.0, 100.0, 440.0, 380.0)])
    report = RedactionReport()
    original = _jpeg()
    thumb = Redactor(face_detector=detector,
                     image_policy=ImagePolicy(thumbnail_px=128)).redact_image(original, report)
    assert thumb is not None and detector.calls == 1 and report.faces_blurred == 1
    img = Image.open(io.BytesIO(thumb))
    assert max(img.size) <= 128 and len(thumb) < len(original) / 10
    pixels = np.asarray(img.convert("L"), dtype=np.float64)
    face = pixels[30:75, 45:105]  # inside the scaled face box: flat after blurring
    background = pixels[:, :30]
    assert face.std() < background.std() / 3


def test_images_are_dropped_without_detector_when_disallowed_or_detector_fails() -> None:
    image = _jpeg(64, 48)
    for redactor in (
        Redactor(),
        Redactor(face_detector=FakeFaces([]), image_policy=ImagePolicy(keep_images=False)),
        Redactor(face_detector=BrokenFaces()),
    ):
        report = RedactionReport()
        assert redactor.redact_image(image, report) is None
        assert report.images_dropped == 1
    assert Redactor(face_detector=FakeFaces([])).redact_image(b"not an image") is None
