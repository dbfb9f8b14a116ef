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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from edgesdk.errors import MissingExtra, UnredactablePayload
from edgesdk.types import Face


@runtime_checkable
class FaceDetector(Protocol):
    """Anything that finds faces in an RGB ``uint8`` image (HxWx3), boxes in source pixels.

    ``edgesdk.local.vision.FaceDetector`` (BlazeFace) satisfies it; so does a fake in tests.
    """

    def detect(self, rgb: NDArray[np.uint8]) -> Sequence[Face]: ...


# --------------------------------------------------------------------------- checksums


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_id_ok(number: str) -> bool:
    """GB 11643-1999 check digit of an 18-character resident ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def iban_ok(text: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34:
        return False
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def _gps_ok(text: str) -> bool:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", text)]
    return len(numbers) >= 2 and abs(numbers[0]) <= 90 and abs(numbers[1]) <= 180


def _ipv4_ok(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 and len(p) <= 3 for p in parts)


def _ipv6_ok(text: str) -> bool:
    hexdigits = sum(c in "0123456789abcdefABCDEF" for c in text)
    return hexdigits >= 2 and (text.count(":") >= 3 or "::" in text) and ":::" not in text


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    placeholder: str
    check: Callable[[str], bool] | None = None
    group: int = 0


_SEP = r"[ \-]?"
_PLACEHOLDER = re.compile(r"\[[A-Z]+\]")
"""What a rule leaves behind; redacting it again must find nothing (the uploader re-checks)."""
_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9])"

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_STREET = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Parkway|Pkwy|Way|"
           r"Court|Ct|Place|Pl|Square|Sq|Terrace|Strasse|Straße|Rue)")

RULES: tuple[Rule, ...] = (
    Rule("private_key", re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"),
        "[KEY]"),
    Rule("bearer", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*"), "Bearer [TOKEN]"),
    Rule("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),
         "[TOKEN]"),
    Rule("api_key", re.compile(
        r"(?<![A-Za-z0-9])(?:sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{16,}|AKIA[0-9A-Z]{16}"
        r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|AIza[0-9A-Za-z_\-]{30,}"
        r"|xox[abposr]-[A-Za-z0-9\-]{10,}|glpat-[A-Za-z0-9_\-]{20,})"), "[KEY]"),
    Rule("secret_assignment", re.compile(
        r"(?i)(?<![A-Za-z])(?:api[_\- ]?key|access[_\- ]?token|secret(?:[_\- ]?key)?|"
        r"password|passwd|"
        r"token|密码|密钥|令牌)\s*(?:[:=：]|is|是|为)\s*[\"']?([^\s\"',，。;；]{6,})"),
        "[SECRET]", group=1, check=lambda s: _PLACEHOLDER.fullmatch(s) is None),
    Rule("iban", re.compile(
        r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?"
        r"(?![A-Za-z0-9])"), "[IBAN]", check=iban_ok),
    Rule("mac", re.compile(r"(?<![0-9A-Fa-f:\-])(?:[0-9A-Fa-f]{2}([:\-]))(?:[0-9A-Fa-f]{2}\1){4}"
                           r"[0-9A-Fa-f]{2}(?![0-9A-Fa-f:\-])"), "[MAC]"),
    Rule("gps", re.compile(
        r"(?<![0-9.])-?\d{1,2}\.\d{4,}°?(?:\s*[NS])?\s*[,，/ ]\s*-?\d{1,3}\.\d{4,}°?"
        r"(?:\s*[EW](?![A-Za-z]))?(?![0-9])"), "[LOCATION]", check=_gps_ok),
    Rule("cn_plate", re.compile(
        rf"[{_PROVINCES}][A-HJ-NP-Z][·• ]?[A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂学警港澳]{{1,2}}"
        r"(?![A-Za-z0-9])"), "[PLATE]"),
    Rule("street_address", re.compile(
        rf"\b\d{{1,5}}(?:[A-Za-z])?\s+(?:[A-Z][a-zäöüß]+\.?\s+){{1,4}}{_STREET}\b\.?"
        r"|[\u4e00-\u9fff]{2,12}(?:路|街|大道|巷|胡同)\d{1,5}号(?:院)?(?:\d{1,4}(?:室|号楼))?"),
        "[ADDRESS]"),
    Rule("name_en", re.compile(
        r"(?i:\bmy\s+name\s+is|\bmy\s+name's|\bcall\s+me|\bi\s+am\s+called)\s+"
        r"([A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2})"), "[NAME]", group=1),
    Rule("name_zh", re.compile(
        r"(?:我叫|我的名字是|我的名字叫)([\u4e00-\u9fff]{2,4}?)(?=[，。,.!！、\s]|$)"),
        "[NAME]", group=1),
    Rule("email", re.compile(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u4e00-\u9fff]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+"), "[EMAIL]"),
    Rule("cn_id", re.compile(
        _NOT_DIGIT_BEFORE + r"[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
        r"\d{3}[0-9Xx]" + r"(?![0-9A-Za-z])"), "[ID]", check=cn_id_ok),
    Rule("cn_mobile", re.compile(
        r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[ \-]?)?1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}"
        + _NOT_DIGIT_AFTER), "[PHONE]"),
    Rule("phone_intl", re.compile(
        r"(?<![0-9A-Za-z])(?:\+|00)[1-9]\d{0,2}[ \-.]?(?:\(\d{1,4}\)[ \-.]?)?"
        r"\d{1,4}(?:[ \-.]?\d{2,4}){1,4}" + _NOT_DIGIT_AFTER), "[PHONE]"),
    Rule("card", re.compile(
        r"(?<![0-9A-Za-z+])\d(?:" + _SEP + r"\d){12,18}" + _NOT_DIGIT_AFTER), "[CARD]",
        check=lambda s: luhn_ok(re.sub(r"\D", "", s))),
    Rule("ipv4", re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9]|\.\d)"), "[IP]",
         check=_ipv4_ok),
    Rule("ipv6", re.compile(
        r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])"),
        "[IP]", check=_ipv6_ok),
    Rule("phone_national", re.compile(
        r"(?<![0-9A-Za-z])(?:(?:\(\d{2,4}\)[ \-.]?|\d{2,4}[ \-.])\d{3,4}[ \-.]\d{4}"
        r"|0\d{2,3}[ \-]\d{7,8})" + _NOT_DIGIT_AFTER), "[PHONE]"),
    Rule("phone_digits", re.compile(_NOT_DIGIT_BEFORE + r"0\d{9,11}" + _NOT_DIGIT_AFTER),
         "[PHONE]"),
)


@dataclass
class RedactionReport:
    found: Counter[str] = field(default_factory=Counter)
    images_dropped: int = 0
    faces_blurred: int = 0

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
