"""Redaction: strip what must never leave the device *before* a record reaches the disk.

Text is scanned for e-mail addresses, API keys and bearer tokens, Chinese resident ID numbers
(ISO 7064 MOD 11-2 checksum), payment card numbers (Luhn), phone numbers (international and
Chinese mobile) and IP addresses, each replaced by a typed placeholder such as ``[EMAIL]``.
Checksums keep order numbers and timestamps from being mangled, while numbers that *look* like
a card or ID but fail the check are still caught by the phone rule when they are phone-shaped.
Digit rules use digit look-arounds rather than ``\\b``: in Chinese text ``号码13812345678``
has no word boundary before the number.

Redaction is enforced at the last boundary, not by convention: ``Outbox.put`` redacts every
string of a payload (keys included) unless it is handed a :class:`Redacted`, which only
:meth:`Redactor.redacted` makes (there is no flag a caller can flip by accident), and the
uploader re-scans each record (:meth:`Redactor.findings`) before it leaves the device. What the
redactor cannot inspect (raw bytes, arbitrary objects) is refused with
:class:`~edgesdk.errors.UnredactablePayload`; an integer that reads as a card or ID number is
redacted like the same digits in text.

Images never leave at full resolution: faces are found with a :class:`FaceDetector` (a
Protocol; the app wires in the BlazeFace detector), pixelated and blurred, and only a small
thumbnail is kept, and only when the policy allows images at all. Without a detector, or when it
fails, the image is dropped: an image we could not check is not kept.
"""

from __future__ import annotations

import base64
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from edgesdk.data.pii_rules import RULES, Rule, cn_id_ok, iban_ok, luhn_ok
from edgesdk.errors import MissingExtra, UnredactablePayload
from edgesdk.types import Face

__all__ = ["RULES", "FaceDetector", "ImagePolicy", "Redacted", "RedactionReport", "Redactor",
           "Rule", "cn_id_ok", "iban_ok", "is_jpeg_b64", "luhn_ok"]


@runtime_checkable
class FaceDetector(Protocol):
    """Anything that finds faces in an RGB ``uint8`` image (HxWx3), boxes in source pixels.

    ``edgesdk.local.vision.FaceDetector`` (BlazeFace) satisfies it; so does a fake in tests.
    """

    def detect(self, rgb: NDArray[np.uint8]) -> Sequence[Face]: ...


@dataclass
class RedactionReport:
    found: Counter[str] = field(default_factory=Counter)
    images_dropped: int = 0
    faces_blurred: int = 0
    replaced: list[tuple[str, str]] = field(default_factory=list, repr=False)
    """(placeholder, original) per replacement, in order: kept on the device only, so a tier's
    tool call that carries a placeholder back can be given the user's words again."""

    @property
    def total(self) -> int:
        return sum(self.found.values())


_JPEG_B64 = re.compile(r"/9j/[A-Za-z0-9+/]{60,}={0,2}")
"""Base64 of a JPEG (it starts FF D8 FF), long enough to be an image, nothing else in it."""


def is_jpeg_b64(text: str) -> bool:
    return len(text) >= 64 and _JPEG_B64.fullmatch(text) is not None


_PROOF = object()
"""Only this module holds it: a :class:`Redacted` cannot be made outside the Redactor."""


class Redacted:
    """A payload the :class:`Redactor` produced, with what it replaced: the proof
    ``Outbox.put`` accepts instead of redacting again. Made only by ``Redactor.redacted``."""

    __slots__ = ("found", "payload")

    def __init__(self, payload: dict[str, Any], found: Counter[str], *, _proof: object) -> None:
        if _proof is not _PROOF:
            raise TypeError("a Redacted payload is made only by Redactor.redacted(payload)")
        self.payload = payload
        self.found = found

    def __repr__(self) -> str:
        return f"Redacted({len(self.payload)} keys, {sum(self.found.values())} replaced)"


@dataclass(frozen=True)
class ImagePolicy:
    """Whether images may be kept at all, and how small they become."""

    keep_images: bool = True
    thumbnail_px: int = 128
    jpeg_quality: int = 60
    face_padding: float = 0.25


class Redactor:
    """Removes personal data from text, nested payloads and images."""

    def __init__(
        self,
        *,
        face_detector: FaceDetector | None = None,
        image_policy: ImagePolicy | None = None,
        rules: Sequence[Rule] = RULES,
    ) -> None:
        self.face_detector = face_detector
        self.image_policy = image_policy or ImagePolicy()
        self.rules = tuple(rules)

    # ------------------------------------------------------------------ text

    def redact_text(self, text: str, report: RedactionReport | None = None) -> str:
        report = report if report is not None else RedactionReport()
        for rule in self.rules:
            text = self._apply(rule, text, report)
        return text

    @staticmethod
    def _apply(rule: Rule, text: str, report: RedactionReport) -> str:
        def replace(match: re.Match[str]) -> str:
            target = match.group(rule.group)
            if rule.check is not None and not rule.check(target):
                return match.group(0)
            report.found[rule.name] += 1
            report.replaced.append((rule.placeholder, target))
            if rule.group:
                start = match.start(rule.group) - match.start(0)
                end = match.end(rule.group) - match.start(0)
                whole = match.group(0)
                return whole[:start] + rule.placeholder + whole[end:]
            return rule.placeholder

        return rule.pattern.sub(replace, text)

    def redact_payload(self, payload: Any, report: RedactionReport | None = None, *,
                       images: bool = True) -> Any:
        """Redact every string (keys too) in a JSON-like structure; returns a new structure.
        A JPEG given as base64 text (``is_jpeg_b64``) is an image, not text: it becomes a
        face-blurred thumbnail (``redact_image``; ``None`` when it cannot be checked), or with
        ``images=False`` is left as it is (a scan). An integer whose digits read as personal data
        becomes the redacted text; anything the redactor cannot inspect (bytes, other objects)
        raises ``UnredactablePayload``."""
        report = report if report is not None else RedactionReport()
        if isinstance(payload, str):
            if is_jpeg_b64(payload):
                if not images:
                    return payload
                thumb = self.redact_image(base64.b64decode(payload), report)
                return None if thumb is None else base64.b64encode(thumb).decode()
            return self.redact_text(payload, report)
        if isinstance(payload, dict):
            return {self.redact_text(str(k), report): self.redact_payload(v, report,
                                                                          images=images)
                    for k, v in payload.items()}
        if isinstance(payload, list | tuple):
            return [self.redact_payload(v, report, images=images) for v in payload]
        if isinstance(payload, bool) or payload is None or isinstance(payload, float):
            return payload
        if isinstance(payload, int):
            text = str(payload)
            redacted = self.redact_text(text, report)
            return payload if redacted == text else redacted
        raise UnredactablePayload(
            f"a record holds a {type(payload).__name__}, which the redactor cannot inspect. "
            "Store text, numbers and lists only; an image goes through "
            "Redactor.redact_image (a face-blurred thumbnail) and in as base64 text")

    def redacted(self, payload: dict[str, Any], *, image: bytes | None = None,
                 report: RedactionReport | None = None) -> Redacted:
        """``payload`` redacted, wrapped as the proof ``Outbox.put`` accepts; with ``image``,
        its face-blurred thumbnail under ``image_jpeg_b64`` (left out when it cannot be
        checked)."""
        report = report if report is not None else RedactionReport()
        clean: dict[str, Any] = self.redact_payload(payload, report)
        if image is not None:
            thumb = self.redact_image(image, report)
            if thumb is not None:
                clean["image_jpeg_b64"] = base64.b64encode(thumb).decode()
        return Redacted(clean, report.found, _proof=_PROOF)

    def findings(self, payload: Any) -> Counter[str]:
        """What the rules still find in ``payload``'s text (by rule name), changing nothing:
        the uploader's last check before a record leaves the device."""
        report = RedactionReport()
        self.redact_payload(payload, report, images=False)
        return report.found

    # ------------------------------------------------------------------ images

    def redact_image(self, image: bytes, report: RedactionReport | None = None) -> bytes | None:
        """A face-blurred JPEG thumbnail, or None when images are not allowed or uncheckable."""
        report = report if report is not None else RedactionReport()
        policy = self.image_policy
        if not policy.keep_images or self.face_detector is None:
            report.images_dropped += 1
            return None
        try:
            from PIL import Image, ImageFilter
        except ImportError as exc:  # pragma: no cover - pillow ships with the vision extra
            raise MissingExtra(module="PIL", extra="vision",
                               purpose="keeping redacted image thumbnails") from exc
        try:
            img = Image.open(io.BytesIO(image)).convert("RGB")
            pixels = np.asarray(img, dtype=np.uint8)
            boxes = [face.box for face in self.face_detector.detect(pixels)]
        except Exception:  # an image we cannot check is an image we do not keep
            report.images_dropped += 1
            return None
        width, height = img.size
        for x0, y0, x1, y1 in boxes:
            pad_w, pad_h = (x1 - x0) * policy.face_padding, (y1 - y0) * policy.face_padding
            box = (max(0, int(x0 - pad_w)), max(0, int(y0 - pad_h)),
                   min(width, int(x1 + pad_w) + 1), min(height, int(y1 + pad_h) + 1))
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            region = img.crop(box)
            small = region.resize((max(1, region.width // 16), max(1, region.height // 16)))
            region = small.resize(region.size, Image.Resampling.NEAREST)
            region = region.filter(ImageFilter.GaussianBlur(radius=max(2, region.width // 8)))
            img.paste(region, box)
            report.faces_blurred += 1
        img.thumbnail((policy.thumbnail_px, policy.thumbnail_px))
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=policy.jpeg_quality)
        return out.getvalue()
